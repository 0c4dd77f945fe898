// RunCheckpoint: everything a grid run needs to continue exactly where it stopped — the steps done, the
// sampling generator, every member's parameters, AdamW moments and step, the TR reference ensemble, and the
// members as they were when the current annotation block began (its pairs' behavior policy). Moments are kept
// in fp32 (unlike a version's state file) so a resumed run's numbers equal an uninterrupted one's.
//
// Layout: "PXRC", a little-endian UInt32 header length, the JSON header, then fp32 tensors of `count` values
// each: per member parameters, m, v; then the reference members' parameters; then the block's members'.
// Written to a temporary file, flushed and renamed over the old one, so a kill leaves the old or the new.

import Foundation
import Learning
import Llama

public struct RunCheckpoint {
    /// Steps completed.
    public var step: Int
    /// The sampling generator's state.
    public var generator: [UInt64]
    public var members: LoRAEnsemble
    public var trainerSteps: Int
    public var reference: LoRAEnsemble?
    /// The members' parameters at the start of the current block (nil: the initial policy samples it).
    public var blockStart: [LoRATensors]?

    private struct Header: Codable {
        var step: Int
        var generator: [UInt64]
        var trainerSteps: Int
        var members: Int
        var count: Int
        var optimizerSteps: [Int]
        var reference: Bool
        var blockStart: Bool
    }

    private static let magic = Array("PXRC".utf8)

    public init(step: Int, generator: [UInt64], members: LoRAEnsemble, trainerSteps: Int, reference: LoRAEnsemble?,
                blockStart: [LoRATensors]?) {
        self.step = step; self.generator = generator; self.members = members
        self.trainerSteps = trainerSteps; self.reference = reference; self.blockStart = blockStart
    }

    /// Writes the checkpoint to `path` atomically.
    public func write(to path: String) throws {
        let n = members.layout.count
        let header = Header(step: step, generator: generator, trainerSteps: trainerSteps, members: members.members.count, count: n,
                            optimizerSteps: members.members.map(\.optimizer.step), reference: reference != nil,
                            blockStart: blockStart != nil)
        let json = try JSONEncoder().encode(header)
        var tensors = members.members.flatMap { [$0.parameters, $0.optimizer.m, $0.optimizer.v] }
        tensors += reference?.members.map(\.parameters) ?? []
        tensors += blockStart ?? []
        let temporary = path + ".partial"
        FileManager.default.createFile(atPath: temporary, contents: nil)
        guard let file = FileHandle(forWritingAtPath: temporary) else { throw CheckpointError("cannot write \(temporary)") }
        var head = Data(Self.magic)
        withUnsafeBytes(of: UInt32(json.count).littleEndian) { head.append(contentsOf: $0) }
        head.append(json)
        try file.write(contentsOf: head)
        for t in tensors {
            try file.write(contentsOf: Data(bytesNoCopy: t.storage.pointer, count: n * 4, deallocator: .none))
        }
        try file.synchronize()
        try file.close()
        guard rename(temporary, path) == 0 else { throw CheckpointError("cannot rename \(temporary) to \(path)") }
    }

    /// Reads a checkpoint of an ensemble with `layout`.
    public static func read(from path: String, layout: LoRALayout) throws -> RunCheckpoint {
        guard let data = FileManager.default.contents(atPath: path) else { throw CheckpointError("cannot read \(path)") }
        guard data.count >= 8, Array(data.prefix(4)) == magic else { throw CheckpointError("\(path) is not a run checkpoint") }
        let length = Int(data[4..<8].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self).littleEndian })
        guard data.count >= 8 + length, let header = try? JSONDecoder().decode(Header.self, from: data[8..<(8 + length)]) else {
            throw CheckpointError("\(path): unreadable header")
        }
        let n = layout.count
        guard header.count == n, header.members >= 1, header.optimizerSteps.count == header.members else {
            throw CheckpointError("\(path) holds an ensemble of another shape than these settings make")
        }
        let tensorCount = 3 * header.members + (header.reference ? header.members : 0) + (header.blockStart ? header.members : 0)
        guard data.count == 8 + length + tensorCount * n * 4 else { throw CheckpointError("\(path) is truncated or too long") }
        var offset = 8 + length
        func next() -> LoRATensors {
            let t = LoRATensors(layout: layout)
            _ = data[offset..<(offset + n * 4)].withUnsafeBytes { memcpy(t.storage.pointer, $0.baseAddress!, n * 4) }
            offset += n * 4
            return t
        }
        let members = (0..<header.members).map { i in
            let p = next(), m = next(), v = next()
            return LoRAMember(parameters: p, optimizer: AdamWState(m: m, v: v, step: header.optimizerSteps[i]))
        }
        let reference = header.reference
            ? LoRAEnsemble(layout: layout, members: (0..<header.members).map { _ in LoRAMember(parameters: next(), optimizer: AdamWState(layout: layout)) })
            : nil
        let blockStart = header.blockStart ? (0..<header.members).map { _ in next() } : nil
        return RunCheckpoint(step: header.step, generator: header.generator, members: LoRAEnsemble(layout: layout, members: members),
                             trainerSteps: header.trainerSteps, reference: reference, blockStart: blockStart)
    }
}

public struct CheckpointError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
