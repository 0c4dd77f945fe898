// TinyLlamaFile: writes a small Llama-architecture GGUF with random weights (2 layers, width 64 by default).
// Metadata and tensors are plain lists, so a test can break one thing before writing the file.

import Llama
import ModelFiles
import ProximaNumerics

// MARK: Random numbers

/// SplitMix64: a small seeded generator, so every test file is the same on every run.
public struct TestRandom: RandomNumberGenerator {
    private var source: SplitMix64

    public init(seed: UInt64) { source = SplitMix64(seed: seed) }

    public mutating func next() -> UInt64 { source.next() }

    public mutating func float(_ range: ClosedRange<Float>) -> Float { Float.random(in: range, using: &self) }
}

// MARK: The file

/// A tiny Llama model as GGUF metadata and tensors (llama.cpp's names and GGUF's innermost-first shapes).
public struct TinyLlamaFile {
    public struct Tensor {
        public var name: String
        public var shape: [Int]
        public var type: QuantType
        public var bytes: [UInt8]

        public init(name: String, shape: [Int], type: QuantType, bytes: [UInt8]) {
            self.name = name; self.shape = shape; self.type = type; self.bytes = bytes
        }
    }

    /// 2 layers, width 64, 4 heads of 16, 2 KV heads, FFN 128, vocabulary 96.
    public static let defaultConfig = LlamaConfig(layerCount: 2, dim: 64, ffnDim: 128, headCount: 4, kvHeadCount: 2,
                                                  headDim: 16, vocabSize: 96, contextLength: 128,
                                                  ropeBase: 10_000, normEps: 1e-5)

    public let config: LlamaConfig
    public var metadata: [(key: String, value: GGUFValue)]
    public var tensors: [Tensor]
    private var random: TestRandom

    /// The linear layers take `matrixTypes` in turn; the token embedding is `embeddingType`, norms F32.
    /// With `separateOutputHead` the file has its own `output.weight`, otherwise the head is tied.
    public init(config: LlamaConfig = defaultConfig, matrixTypes: [QuantType] = [.q4_1, .q8_0, .f32],
                embeddingType: QuantType = .q8_0, separateOutputHead: Bool = false, seed: UInt64 = 1) {
        self.config = config
        random = TestRandom(seed: seed)
        let c = config
        metadata = [
            ("general.architecture", .string("llama")),
            ("general.name", .string("tiny-llama-test")),
            ("llama.block_count", .uint32(UInt32(c.layerCount))),
            ("llama.context_length", .uint32(UInt32(c.contextLength))),
            ("llama.embedding_length", .uint32(UInt32(c.dim))),
            ("llama.feed_forward_length", .uint32(UInt32(c.ffnDim))),
            ("llama.attention.head_count", .uint32(UInt32(c.headCount))),
            ("llama.attention.head_count_kv", .uint32(UInt32(c.kvHeadCount))),
            ("llama.rope.freq_base", .float32(c.ropeBase)),
            ("llama.attention.layer_norm_rms_epsilon", .float32(c.normEps)),
            ("llama.vocab_size", .uint32(UInt32(c.vocabSize))),
            ("llama.rope.dimension_count", .uint32(UInt32(c.headDim))),
        ]
        tensors = []
        var nextType = matrixTypes.makeIterator()
        func matrixType() -> QuantType {
            if let t = nextType.next() { return t }
            nextType = matrixTypes.makeIterator()
            return nextType.next()!
        }
        setTensor("token_embd.weight", shape: [c.dim, c.vocabSize], type: embeddingType)
        for i in 0..<c.layerCount {
            let p = "blk.\(i)."
            setNorm(p + "attn_norm.weight")
            setTensor(p + "attn_q.weight", shape: [c.dim, c.dim], type: matrixType())
            setTensor(p + "attn_k.weight", shape: [c.dim, c.kvDim], type: matrixType())
            setTensor(p + "attn_v.weight", shape: [c.dim, c.kvDim], type: matrixType())
            setTensor(p + "attn_output.weight", shape: [c.dim, c.dim], type: matrixType())
            setNorm(p + "ffn_norm.weight")
            setTensor(p + "ffn_gate.weight", shape: [c.dim, c.ffnDim], type: matrixType())
            setTensor(p + "ffn_up.weight", shape: [c.dim, c.ffnDim], type: matrixType())
            setTensor(p + "ffn_down.weight", shape: [c.ffnDim, c.dim], type: matrixType())
        }
        setNorm("output_norm.weight")
        if separateOutputHead { setTensor("output.weight", shape: [c.dim, c.vocabSize], type: matrixType()) }
    }

    // MARK: Editing

    /// Replaces the value of `key` where it stands, appends it when new, removes it when `value` is nil.
    public mutating func setMetadata(_ key: String, _ value: GGUFValue?) {
        let i = metadata.firstIndex { $0.key == key }
        switch (i, value) {
        case let (i?, value?): metadata[i].value = value
        case let (i?, nil): metadata.remove(at: i)
        case let (nil, value?): metadata.append((key, value))
        case (nil, nil): break
        }
    }

    /// Replaces (or appends) tensor `name` with random contents of `shape` (innermost first) and `type`.
    public mutating func setTensor(_ name: String, shape: [Int], type: QuantType) {
        let bytes = Self.randomBytes(type, count: shape.reduce(1, *), using: &random)
        put(Tensor(name: name, shape: shape, type: type, bytes: bytes))
    }

    public mutating func removeTensor(_ name: String) { tensors.removeAll { $0.name == name } }

    public func tensor(_ name: String) -> Tensor? { tensors.first { $0.name == name } }

    /// An RMSNorm weight: F32 values near 1.
    private mutating func setNorm(_ name: String) {
        let values = (0..<config.dim).map { _ in random.float(0.8...1.2) }
        put(Tensor(name: name, shape: [config.dim], type: .f32, bytes: values.withUnsafeBytes { Array($0) }))
    }

    /// Adds `tensor`, replacing one of the same name.
    public mutating func put(_ tensor: Tensor) {
        if let i = tensors.firstIndex(where: { $0.name == tensor.name }) { tensors[i] = tensor } else { tensors.append(tensor) }
    }

    // MARK: Writing

    public func writer(alignment: Int = 32) -> GGUFWriter {
        var writer = GGUFWriter(alignment: alignment)
        for (key, value) in metadata { writer.set(key, value) }
        for t in tensors { writer.addTensor(t.name, shape: t.shape, type: t.type, bytes: t.bytes) }
        return writer
    }

    public func write(to path: String, alignment: Int = 32) throws(ModelFileError) {
        try writer(alignment: alignment).write(to: path)
    }

    // MARK: Random tensor contents

    /// Random bytes for `count` values of `type`: finite values of about ±0.1, quantised blocks with
    /// f16 scales of 0.002…0.02 (and Q4_1 offsets of −0.1…0) and random quants.
    public static func randomBytes(_ type: QuantType, count: Int, using random: inout TestRandom) -> [UInt8] {
        var bytes: [UInt8] = []
        func put16(_ bits: UInt16) { bytes.append(UInt8(bits & 0xFF)); bytes.append(UInt8(bits >> 8)) }
        func quants(_ n: Int) { for _ in 0..<n { bytes.append(UInt8.random(in: 0...255, using: &random)) } }
        switch type {
        case .f32:
            for _ in 0..<count { withUnsafeBytes(of: random.float(-0.1...0.1).bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
        case .f16:
            for _ in 0..<count { put16(Float16(random.float(-0.1...0.1)).bitPattern) }
        case .bf16:
            for _ in 0..<count { put16(UInt16(random.float(-0.1...0.1).bitPattern >> 16)) }
        case .q8_0, .q4_0:
            for _ in 0..<(count / 32) {
                put16(Float16(random.float(0.002...0.02)).bitPattern)
                quants(type == .q8_0 ? 32 : 16)
            }
        case .q4_1:
            for _ in 0..<(count / 32) {
                put16(Float16(random.float(0.002...0.02)).bitPattern)
                put16(Float16(random.float(-0.1...0)).bitPattern)
                quants(16)
            }
        case .q5_0, .q5_1, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .q8_K:
            // Random quants and sub-block scales, with the block's factors set to small finite values.
            for _ in 0..<(count / type.blockSize) {
                let start = bytes.count
                quants(type.blockBytes)
                for offset in type.f16FactorOffsets {
                    let bits = Float16(random.float(0.0005...0.005)).bitPattern
                    bytes[start + offset] = UInt8(bits & 0xFF); bytes[start + offset + 1] = UInt8(bits >> 8)
                }
                if type == .q8_K {
                    withUnsafeBytes(of: random.float(0.0005...0.005).bitPattern.littleEndian) { bytes.replaceSubrange(start..<(start + 4), with: $0) }
                }
            }
        }
        return bytes
    }
}
