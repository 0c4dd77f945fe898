// Proxima: the root command and its subcommands (serve, generate, bench, train, simulate, import-adapter, experiment, judges, policies).

import ArgumentParser

struct Proxima: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxima",
        abstract: "A self-improving chat model service: serve, generate, learn from preferences.",
        subcommands: [ServeCommand.self, GenerateCommand.self, BenchCommand.self, TrainCommand.self, SimulateCommand.self, ImportAdapterCommand.self,
                      ExperimentCommand.self, JudgesCommand.self, PoliciesCommand.self])
}
