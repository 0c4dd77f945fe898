// GGUFWriter: builds a GGUF version 3 file in memory (metadata, tensors) and writes it atomically.
// Used for adapters and for the tiny models and crafted files the tests make.

import ProximaNumerics
#if canImport(Glibc)
import Glibc
#endif

/// Accumulates metadata and tensors, then serialises them as GGUF v3 (tensor data aligned to `alignment`).
public struct GGUFWriter {
    public private(set) var metadata: [(String, GGUFValue)] = []
    private var tensors: [(name: String, shape: [Int], type: QuantType, bytes: [UInt8])] = []
    /// Where every tensor's data starts: a multiple of this many bytes.
    public let alignment: Int

    /// `alignment` must be a power of two; other than GGUF's default 32 it is recorded first, as
    /// `general.alignment` (so do not set that key yourself).
    public init(alignment: Int = 32) {
        precondition(alignment > 0 && alignment & (alignment - 1) == 0, "alignment \(alignment) is not a power of two")
        self.alignment = alignment
        if alignment != 32 { set("general.alignment", .uint32(UInt32(alignment))) }
    }

    public mutating func set(_ key: String, _ value: GGUFValue) { metadata.append((key, value)) }

    /// Adds a tensor given its raw bytes in `type`'s block layout; `shape` is innermost first.
    public mutating func addTensor(_ name: String, shape: [Int], type: QuantType, bytes: [UInt8]) {
        precondition(type.byteCount(values: shape.reduce(1, *)) == bytes.count, "tensor \(name): byte count does not match shape")
        tensors.append((name, shape, type, bytes))
    }

    /// Adds an F32 tensor.
    public mutating func addTensor(_ name: String, shape: [Int], values: [Float]) {
        precondition(shape.reduce(1, *) == values.count, "tensor \(name): value count does not match shape")
        addTensor(name, shape: shape, type: .f32, bytes: values.withUnsafeBytes { Array($0) })
    }

    /// The serialised file.
    public func bytes() -> [UInt8] {
        var out: [UInt8] = []
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        func putString(_ s: String) { put(UInt64(s.utf8.count)); out.append(contentsOf: s.utf8) }
        func putValue(_ v: GGUFValue) {
            switch v {
            case let .uint8(x): put(x)
            case let .int8(x): put(x)
            case let .uint16(x): put(x)
            case let .int16(x): put(x)
            case let .uint32(x): put(x)
            case let .int32(x): put(x)
            case let .uint64(x): put(x)
            case let .int64(x): put(x)
            case let .float32(x): put(x.bitPattern)
            case let .float64(x): put(x.bitPattern)
            case let .bool(x): put(UInt8(x ? 1 : 0))
            case let .string(s): putString(s)
            case let .array(type, items):
                put(type.rawValue); put(UInt64(items.count))
                for item in items { putValue(item) }
            }
        }
        out.append(contentsOf: Array("GGUF".utf8))
        put(UInt32(3)); put(UInt64(tensors.count)); put(UInt64(metadata.count))
        for (key, value) in metadata { putString(key); put(value.type.rawValue); putValue(value) }
        var offset = 0
        var offsets: [Int] = []
        for t in tensors {
            offsets.append(offset)
            offset += (t.bytes.count + alignment - 1) / alignment * alignment
        }
        for (t, off) in zip(tensors, offsets) {
            putString(t.name); put(UInt32(t.shape.count))
            for d in t.shape { put(UInt64(d)) }
            put(t.type.rawValue); put(UInt64(off))
        }
        while out.count % alignment != 0 { out.append(0) }
        for t in tensors {
            out.append(contentsOf: t.bytes)
            while out.count % alignment != 0 { out.append(0) }
        }
        return out
    }

    /// Writes the file atomically: to a temporary name beside it, fsync, then rename.
    public func write(to path: String) throws(ModelFileError) {
        try writeFileAtomically(bytes(), to: path)
    }
}

/// Writes bytes to `path` through a temporary file, fsync and rename, so readers never see a partial file.
public func writeFileAtomically(_ bytes: [UInt8], to path: String) throws(ModelFileError) {
    let tmp = path + ".tmp-\(getpid())"
    let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { throw .unreadable(path: path, reason: "cannot create: \(String(cString: strerror(errno)))") }
    var written = 0
    let ok: Bool = bytes.withUnsafeBytes { buf in
        while written < buf.count {
            let n = Glibc.write(fd, buf.baseAddress! + written, buf.count - written)
            if n <= 0 { return false }
            written += n
        }
        return fsync(fd) == 0
    }
    close(fd)
    guard ok, rename(tmp, path) == 0 else {
        unlink(tmp)
        throw .unreadable(path: path, reason: "cannot write: \(String(cString: strerror(errno)))")
    }
}
