// GGUFFile: parses a GGUF (version 2 or 3) file from a memory map: metadata, tensor infos, tensor data.
// Every read is bounds-checked; a bad file is refused with an error naming the file, the key or tensor.

import ProximaNumerics

/// One tensor of a GGUF file: its shape (innermost dimension first, as GGUF stores it), type and bytes.
public struct GGUFTensor: Sendable {
    public let name: String
    /// Dimensions, innermost (contiguous) first: a matrix with `rows` rows of `cols` values is [cols, rows].
    public let shape: [Int]
    public let type: QuantType
    /// Offset of the data from the start of the file.
    public let fileOffset: Int
    public let byteCount: Int
    public var elementCount: Int { shape.reduce(1, *) }
}

/// A parsed GGUF file. Tensor data stays in the memory map, which this value keeps alive.
public struct GGUFFile: Sendable {
    public let path: String
    public let version: UInt32
    public let alignment: Int
    /// Metadata in file order.
    public let metadata: [(key: String, value: GGUFValue)]
    public let tensors: [GGUFTensor]
    public let map: MappedFile
    private let metadataIndex: [String: Int]
    private let tensorIndex: [String: Int]

    public init(path: String) throws(ModelFileError) {
        let map = try MappedFile(path: path)
        var r = GGUFCursor(map: map)
        guard map.size >= 4, map.base.loadUnaligned(as: UInt32.self) == 0x4655_4747 else {
            throw .malformed(path: path, what: "header", problem: "not a GGUF file (magic bytes are not 'GGUF')")
        }
        r.position = 4
        let version = try r.u32("header version")
        guard version == 2 || version == 3 else {
            throw .unsupported(path: path, what: "header", problem: "GGUF version \(version) (Proxima reads versions 2 and 3)")
        }
        // Both counts are read before either is checked, so a cut inside the header is reported where it falls.
        let rawTensorCount = try r.u64("header tensor count")
        let rawMetadataCount = try r.u64("header metadata count")
        let metadataCount = try r.fits(rawMetadataCount, "header metadata count", minimumBytesEach: 8 + 4)
        let tensorCount = try r.fits(rawTensorCount, "header tensor count", minimumBytesEach: 4 + 8 + 4 + 4 + 8)

        var metadata: [(key: String, value: GGUFValue)] = []
        var metadataIndex: [String: Int] = [:]
        for i in 0..<metadataCount {
            let key = try r.string("metadata key #\(i)")
            let rawType = try r.u32("metadata '\(key)' type")
            let value = try r.value(rawType, what: "metadata '\(key)'", depth: 0)
            guard metadataIndex[key] == nil else {
                throw .malformed(path: path, what: "metadata '\(key)'", problem: "the key appears twice")
            }
            metadataIndex[key] = metadata.count
            metadata.append((key, value))
        }

        var alignment = 32
        if let i = metadataIndex["general.alignment"] {
            guard let a = metadata[i].value.int, a > 0, a & (a - 1) == 0 else {
                throw .malformed(path: path, what: "metadata 'general.alignment'", problem: "must be a positive power of two integer")
            }
            alignment = a
        }

        var infos: [(name: String, shape: [Int], type: QuantType, offset: Int)] = []
        var tensorIndex: [String: Int] = [:]
        for i in 0..<tensorCount {
            let name = try r.string("tensor #\(i) name")
            let what = "tensor '\(name)'"
            let nDims = Int(try r.u32("\(what) dimension count"))
            guard (1...4).contains(nDims) else {
                throw .malformed(path: path, what: what, problem: "has \(nDims) dimensions (1 to 4 allowed)")
            }
            var shape: [Int] = []
            for _ in 0..<nDims {
                let d = try r.u64("\(what) shape")
                guard d > 0, d < (1 << 40) else {
                    throw .malformed(path: path, what: what, problem: "dimension \(d) is out of range")
                }
                shape.append(Int(d))
            }
            let typeCode = try r.u32("\(what) type")
            guard let type = QuantType(rawValue: typeCode) else {
                throw .unsupported(path: path, what: what, problem: "tensor type \(QuantType.ggmlName(code: typeCode)) (Proxima reads \(QuantType.supportedNames))")
            }
            guard shape[0] % type.blockSize == 0 else {
                throw .malformed(path: path, what: what, problem: "row length \(shape[0]) is not a multiple of the \(type) block size \(type.blockSize)")
            }
            let offset = try r.u64("\(what) data offset")
            guard offset % UInt64(alignment) == 0 else {
                throw .malformed(path: path, what: what, problem: "data offset \(offset) is not aligned to \(alignment) bytes")
            }
            guard offset < UInt64(map.size) else {
                throw .malformed(path: path, what: what, problem: "data offset \(offset) lies past the end of the file (\(map.size) bytes)")
            }
            guard tensorIndex[name] == nil else { throw .malformed(path: path, what: what, problem: "the name appears twice") }
            tensorIndex[name] = infos.count
            infos.append((name, shape, type, Int(offset)))
        }

        let dataStart = (r.position + alignment - 1) / alignment * alignment
        var tensors: [GGUFTensor] = []
        tensors.reserveCapacity(infos.count)
        for info in infos {
            var count = 1
            for d in info.shape {
                let (c, overflow) = count.multipliedReportingOverflow(by: d)
                guard !overflow else { throw .malformed(path: path, what: "tensor '\(info.name)'", problem: "shape \(info.shape) is too large") }
                count = c
            }
            guard let bytes = info.type.byteCount(values: count) else {
                throw .malformed(path: path, what: "tensor '\(info.name)'", problem: "shape \(info.shape) is too large")
            }
            let start = dataStart + info.offset
            guard start <= map.size, bytes <= map.size - start else {
                throw .malformed(path: path, what: "tensor '\(info.name)'",
                                 problem: "data (\(bytes) bytes at offset \(start)) runs past the end of the file (\(map.size) bytes): truncated?")
            }
            tensors.append(GGUFTensor(name: info.name, shape: info.shape, type: info.type, fileOffset: start, byteCount: bytes))
        }

        self.path = path
        self.version = version
        self.alignment = alignment
        self.metadata = metadata
        self.metadataIndex = metadataIndex
        self.tensors = tensors
        self.tensorIndex = tensorIndex
        self.map = map
    }

    // MARK: Lookup

    public subscript(key: String) -> GGUFValue? { metadataIndex[key].map { metadata[$0].value } }

    public func tensor(_ name: String) -> GGUFTensor? { tensorIndex[name].map { tensors[$0] } }

    /// A pointer to a tensor's bytes, valid while this file (its map) is alive.
    public func data(of tensor: GGUFTensor) -> UnsafeRawPointer { map.base + tensor.fileOffset }

    // MARK: Typed metadata access with errors that name the key

    public func requiredInt(_ key: String) throws(ModelFileError) -> Int {
        guard let v = self[key] else { throw .missing(path: path, what: "metadata key '\(key)'") }
        guard let i = v.int else { throw .malformed(path: path, what: "metadata '\(key)'", problem: "expected an integer, found \(v.type)") }
        return i
    }

    public func requiredDouble(_ key: String) throws(ModelFileError) -> Double {
        guard let v = self[key] else { throw .missing(path: path, what: "metadata key '\(key)'") }
        guard let d = v.double else { throw .malformed(path: path, what: "metadata '\(key)'", problem: "expected a number, found \(v.type)") }
        return d
    }

    public func requiredString(_ key: String) throws(ModelFileError) -> String {
        guard let v = self[key] else { throw .missing(path: path, what: "metadata key '\(key)'") }
        guard let s = v.string else { throw .malformed(path: path, what: "metadata '\(key)'", problem: "expected a string, found \(v.type)") }
        return s
    }

    /// The value of an optional key: nil when absent, refused when present with the wrong type.
    public func optionalInt(_ key: String) throws(ModelFileError) -> Int? { self[key] == nil ? nil : try requiredInt(key) }

    public func optionalDouble(_ key: String) throws(ModelFileError) -> Double? { self[key] == nil ? nil : try requiredDouble(key) }

    public func optionalString(_ key: String) throws(ModelFileError) -> String? { self[key] == nil ? nil : try requiredString(key) }

    public func requiredStringArray(_ key: String) throws(ModelFileError) -> [String] {
        guard let v = self[key] else { throw .missing(path: path, what: "metadata key '\(key)'") }
        guard case let .array(type, items) = v, type == .string else {
            throw .malformed(path: path, what: "metadata '\(key)'", problem: "expected an array of strings")
        }
        return items.map { $0.string! }
    }
}

// MARK: - Cursor

/// Bounds-checked little-endian reads over the map; errors carry the file and what was being read.
struct GGUFCursor {
    let map: MappedFile
    var position = 0

    init(map: MappedFile) { self.map = map }

    private func need(_ n: Int, _ what: String) throws(ModelFileError) {
        guard n >= 0, n <= map.size - position else {
            throw .malformed(path: map.path, what: what, problem: "truncated: needs \(n) bytes at offset \(position), the file has \(map.size)")
        }
    }

    mutating func fixed<T: FixedWidthInteger>(_ type: T.Type, _ what: String) throws(ModelFileError) -> T {
        try need(MemoryLayout<T>.size, what)
        defer { position += MemoryLayout<T>.size }
        return T(littleEndian: map.base.loadUnaligned(fromByteOffset: position, as: T.self))
    }

    mutating func u32(_ what: String) throws(ModelFileError) -> UInt32 { try fixed(UInt32.self, what) }
    mutating func u64(_ what: String) throws(ModelFileError) -> UInt64 { try fixed(UInt64.self, what) }

    /// A u64 count whose items take at least `minimumBytesEach` bytes: refused if they cannot fit in the file.
    mutating func count(_ what: String, minimumBytesEach: Int) throws(ModelFileError) -> Int {
        let n = try u64(what)
        return try fits(n, what, minimumBytesEach: minimumBytesEach)
    }

    /// `n` as Int if `n` items of at least `minimumBytesEach` bytes fit in the bytes left.
    func fits(_ n: UInt64, _ what: String, minimumBytesEach: Int) throws(ModelFileError) -> Int {
        guard n <= UInt64(map.size - position) / UInt64(max(minimumBytesEach, 1)) else {
            throw .malformed(path: map.path, what: what, problem: "count \(n) cannot fit in the \(map.size - position) bytes left: corrupt or truncated")
        }
        return Int(n)
    }

    mutating func string(_ what: String) throws(ModelFileError) -> String {
        let n = try count(what, minimumBytesEach: 1)
        try need(n, what)
        let bytes = UnsafeRawBufferPointer(start: map.base + position, count: n)
        position += n
        guard let s = String(validating: bytes, as: UTF8.self) else {
            throw .malformed(path: map.path, what: what, problem: "string is not valid UTF-8")
        }
        return s
    }

    mutating func value(_ rawType: UInt32, what: String, depth: Int) throws(ModelFileError) -> GGUFValue {
        guard let type = GGUFValueType(rawValue: rawType) else {
            throw .malformed(path: map.path, what: what, problem: "unknown value type \(rawType)")
        }
        switch type {
        case .uint8: return .uint8(try fixed(UInt8.self, what))
        case .int8: return .int8(try fixed(Int8.self, what))
        case .uint16: return .uint16(try fixed(UInt16.self, what))
        case .int16: return .int16(try fixed(Int16.self, what))
        case .uint32: return .uint32(try fixed(UInt32.self, what))
        case .int32: return .int32(try fixed(Int32.self, what))
        case .uint64: return .uint64(try fixed(UInt64.self, what))
        case .int64: return .int64(try fixed(Int64.self, what))
        case .float32: return .float32(Float(bitPattern: try fixed(UInt32.self, what)))
        case .float64: return .float64(Double(bitPattern: try fixed(UInt64.self, what)))
        case .bool:
            let b = try fixed(UInt8.self, what)
            guard b <= 1 else { throw .malformed(path: map.path, what: what, problem: "bool value \(b) is neither 0 nor 1") }
            return .bool(b == 1)
        case .string: return .string(try string(what))
        case .array:
            guard depth < 8 else { throw .malformed(path: map.path, what: what, problem: "arrays nested deeper than 8 levels") }
            let elementRaw = try u32("\(what) array element type")
            guard let elementType = GGUFValueType(rawValue: elementRaw) else {
                throw .malformed(path: map.path, what: what, problem: "unknown array element type \(elementRaw)")
            }
            let n = try count("\(what) array length", minimumBytesEach: elementType.minimumByteCount)
            var items: [GGUFValue] = []
            items.reserveCapacity(n)
            for i in 0..<n { items.append(try value(elementRaw, what: "\(what)[\(i)]", depth: depth + 1)) }
            return .array(elementType, items)
        }
    }
}

extension GGUFValueType {
    /// The fewest bytes a value of this type takes in a file (a string or array may be empty).
    var minimumByteCount: Int {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64, .string: return 8
        case .array: return 4 + 8
        }
    }
}
