// proxima: the one executable. Sets up the process (OpenBLAS kernel choice) before the library starts,
// then runs the command (async commands such as serve are awaited); errors are one line on stderr and a
// non-zero exit.

import ArgumentParser
import Foundation

/// Runs a parsed command: async ones (serve) on the concurrency runtime, the others synchronously.
func execute(_ command: any ParsableCommand) async throws {
    if var asyncCommand = command as? any AsyncParsableCommand {
        try await asyncCommand.run()
    } else {
        var command = command
        try command.run()
    }
}

CPUEnvironment.prepareOpenBLAS()
do {
    try await execute(try Proxima.parseAsRoot())
} catch let error as CLIError {
    FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
    exit(1)
} catch {
    let code = Proxima.exitCode(for: error)
    if code == .success {
        print(Proxima.fullMessage(for: error))
        exit(0)
    }
    FileHandle.standardError.write(Data("error: \(Proxima.message(for: error))\n".utf8))
    exit(code.rawValue)
}
