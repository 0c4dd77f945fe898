// GridRunner: runs every run of a grid into a directory, resumably.
//
//     DIR/grid.yaml                         the grid file as given
//     DIR/initial/<key>.json                the initial policy's greedy replies (shared by runs that agree on them)
//     DIR/runs/<variant>/seed-<n>/
//         settings.json                     the run's settings, flat
//         steps.jsonl                       one StepRecord per step, appended as it happens
//         state.ckpt                        the run after its last recorded step (RunCheckpoint), while unfinished
//         finished                          present once the last step is recorded
//
// A step's record is appended before its checkpoint is written, so after a kill the records past the
// checkpoint are dropped on resume and those steps run again, with the same numbers.

import Foundation
import Inference
import Learning
import Llama
import ProximaCore
import ProximaNumerics
import Service

public struct GridProgress: Sendable {
    /// Steps recorded across every run of the grid, and in all.
    public var done: Int
    public var total: Int
    /// Steps run by this invocation (for a rate and an ETA).
    public var doneHere: Int
    public var run: String
    public var record: StepRecord
}

public final class GridRunner: @unchecked Sendable {
    public let grid: GridFile
    public let directory: URL
    private let model: ModelBundle
    private let pool: ComputePool
    private let trainPrompts: [String]
    private let devPrompts: [String]
    private let makeJudge: (String) throws -> any PreferenceSimulator
    private let referee: any PreferenceSimulator

    public init(grid: GridFile, directory: String, model: ModelBundle, pool: ComputePool, trainPrompts: [String], devPrompts: [String],
                makeJudge: @escaping (String) throws -> any PreferenceSimulator, referee: any PreferenceSimulator) {
        self.grid = grid
        self.directory = URL(fileURLWithPath: directory)
        self.model = model
        self.pool = pool
        self.trainPrompts = trainPrompts
        self.devPrompts = devPrompts
        self.makeJudge = makeJudge
        self.referee = referee
    }

    /// Whether `directory` already holds runs of a grid.
    public static func hasRuns(in directory: String) -> Bool {
        FileManager.default.fileExists(atPath: URL(fileURLWithPath: directory).appendingPathComponent("runs").path)
    }

    /// Checks that every run already in the directory was started with the settings the grid gives it now.
    public func checkResumable() throws(GridError) {
        for run in grid.runs {
            let file = directory.appendingPathComponent(run.directory).appendingPathComponent("settings.json")
            guard let data = FileManager.default.contents(atPath: file.path) else { continue }
            // Keys a later version added are not in the stored settings; every stored one must still hold.
            let current = run.settings.values
            guard let stored = try? JSONDecoder().decode(JSONObject.self, from: data), stored.allSatisfy({ current[$0.key] == $0.value }) else {
                throw GridError("\(run.directory) was started with other settings than the grid gives it now; "
                                + "restore the grid file or use another --out")
            }
        }
    }

    /// Steps already recorded by a run (a finished run's all; otherwise up to its checkpoint).
    public func recordedSteps(_ run: GridFile.Run) -> Int {
        let dir = directory.appendingPathComponent(run.directory)
        if FileManager.default.fileExists(atPath: dir.appendingPathComponent("finished").path) { return run.settings.steps }
        return Self.records(in: dir).filter { $0.step <= checkpointStep(dir) }.count
    }

    private func checkpointStep(_ dir: URL) -> Int {
        // The step is in the checkpoint's header; reading the whole file for it is wasteful, so peek.
        guard let handle = FileHandle(forReadingAtPath: dir.appendingPathComponent("state.ckpt").path) else { return 0 }
        defer { try? handle.close() }
        guard let head = try? handle.read(upToCount: 8), head.count == 8 else { return 0 }
        let length = Int(head[4..<8].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self).littleEndian })
        guard let json = try? handle.read(upToCount: length),
              let header = try? JSONSerialization.jsonObject(with: json) as? [String: Any], let step = header["step"] as? Int else { return 0 }
        return step
    }

    /// Runs every unfinished run (or those of `only`, when given) from where it stopped.
    public func run(only: Set<String>? = nil, progress: (GridProgress) -> Void) async throws {
        let fm = FileManager.default
        try fm.createDirectory(at: directory.appendingPathComponent("initial"), withIntermediateDirectories: true)
        let runs = grid.runs.filter { only?.contains($0.variant) ?? true }
        let total = runs.map(\.settings.steps).reduce(0, +)
        var done = runs.map(recordedSteps).reduce(0, +)
        var doneHere = 0
        var evaluators: [String: (GreedyEvaluator, [GreedyReply])] = [:]
        for run in runs {
            let dir = directory.appendingPathComponent(run.directory)
            if fm.fileExists(atPath: dir.appendingPathComponent("finished").path) { continue }
            try fm.createDirectory(at: dir, withIntermediateDirectories: true)
            try JSONEncoder.sorted.encode(run.settings.values).write(to: dir.appendingPathComponent("settings.json"), options: .atomic)
            let layout = LoRALayout(model: model.weights.config, lora: run.settings.phase.lora)
            let statePath = dir.appendingPathComponent("state.ckpt").path
            let checkpoint = fm.fileExists(atPath: statePath) ? try RunCheckpoint.read(from: statePath, layout: layout) : nil
            // Keep the records up to the checkpoint; later ones are run again.
            let kept = Self.records(in: dir).filter { $0.step <= (checkpoint?.step ?? 0) }
            let log = dir.appendingPathComponent("steps.jsonl")
            try Data(kept.map { String(decoding: try JSONEncoder.sorted.encode($0), as: UTF8.self) + "\n" }.joined().utf8).write(to: log, options: .atomic)

            let key = "max\(run.settings.maxTokens)-n\(min(run.settings.evalPrompts, devPrompts.count))-\(Self.fingerprint(devPrompts))"
            if evaluators[key] == nil {
                let prompts = Array(devPrompts.prefix(run.settings.evalPrompts))
                let evaluator = GreedyEvaluator(model: model, pool: pool, lease: nil, prompts: prompts, maxTokens: run.settings.maxTokens)
                let cache = directory.appendingPathComponent("initial/\(key).json")
                let replies: [GreedyReply]
                if let data = fm.contents(atPath: cache.path), let cached = try? JSONDecoder().decode([GreedyReply].self, from: data),
                   cached.count == prompts.count {
                    replies = cached
                } else {
                    replies = try evaluator.replies(of: ServingPolicy(id: "initial", weights: model.weights))
                    try JSONEncoder.sorted.encode(replies).write(to: cache, options: .atomic)
                }
                evaluators = [key: (evaluator, replies)]   // one at a time: each holds a decoder's buffers
            }
            let (evaluator, initialReplies) = evaluators[key]!
            let experiment = ExperimentRun(name: run.directory, settings: run.settings, model: model, pool: pool, trainPrompts: trainPrompts,
                                           evaluator: evaluator, initialReplies: initialReplies, judge: try makeJudge(run.settings.simulator),
                                           referee: referee, resumingFrom: checkpoint)
            let file = try FileHandle(forWritingTo: log)
            defer { try? file.close() }
            try file.seekToEnd()
            while !experiment.isFinished {
                try Task.checkCancellation()
                let record = try await experiment.nextStep()
                try file.write(contentsOf: try JSONEncoder.sorted.encode(record) + Data("\n".utf8))
                try file.synchronize()
                if experiment.isFinished {
                    fm.createFile(atPath: dir.appendingPathComponent("finished").path, contents: nil)
                    try? fm.removeItem(atPath: statePath)
                } else {
                    try experiment.checkpoint().write(to: statePath)
                }
                done += 1
                doneHere += 1
                progress(GridProgress(done: done, total: total, doneHere: doneHere, run: run.directory, record: record))
            }
        }
    }

    /// A run's records as they are on disk (a torn last line is ignored).
    public static func records(in runDirectory: URL) -> [StepRecord] {
        guard let data = FileManager.default.contents(atPath: runDirectory.appendingPathComponent("steps.jsonl").path) else { return [] }
        return data.split(separator: UInt8(ascii: "\n")).compactMap { try? JSONDecoder().decode(StepRecord.self, from: Data($0)) }
    }

    /// FNV-1a of the prompts: names the initial replies' cache file.
    static func fingerprint(_ prompts: [String]) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in prompts.joined(separator: "\n").utf8 { h = (h ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return String(h, radix: 16)
    }
}

extension JSONEncoder {
    /// Sorted keys: the same value always gives the same bytes.
    static var sorted: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }
}
