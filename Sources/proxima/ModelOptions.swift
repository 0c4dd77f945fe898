// ModelOptions: the --model and --threads options shared by the commands, and where the default model is.

import ProximaApp
import ArgumentParser
import Foundation
import ModelFiles
import Inference
import ProximaNumerics

struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: "Path of a Llama-architecture GGUF model (default: the model ops/run fetched).")
    var model: String?

    @Option(name: .long, help: "Compute threads (default: the number of cores).")
    var threads: Int?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    /// The model path: --model, else `configured` (a configuration file's), else $PROXIMA_MODEL, else the default model.
    func modelPath(configured: String? = nil) throws -> String {
        if let model = model ?? configured { return model }
        if let env = ProcessInfo.processInfo.environment["PROXIMA_MODEL"], !env.isEmpty { return env }
        return try InstallLayout.defaultModelPath()
    }

    var threadCount: Int { threads ?? ProcessInfo.processInfo.activeProcessorCount }

    /// Loads the model, turning file errors into one clear line.
    func load(pool: ComputePool, configured: String? = nil) throws -> ModelBundle {
        let path = try modelPath(configured: configured)
        do {
            return try ModelBundle(path: path, pool: pool)
        } catch {
            throw CLIError(error.description)
        }
    }
}

/// An error printed as one line: "error: <message>", exit status 1.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}
