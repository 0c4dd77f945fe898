// proxima: the one executable. Sets up the process (OpenBLAS kernels, allocator) before the libraries start,
// then runs the command; errors are one line on stderr and a non-zero exit.

import ArgumentParser
import Foundation

/// Runs an async command through its own `run() async` (an existential call would pick the sync one).
func runAsync<C: AsyncParsableCommand>(_ command: C) async throws {
    var command = command
    try await command.run()
}

CPUEnvironment.prepareProcess()
do {
    var command = try Proxima.parseAsRoot()
    if let asyncCommand = command as? any AsyncParsableCommand {
        try await runAsync(asyncCommand)
    } else {
        try command.run()
    }
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
