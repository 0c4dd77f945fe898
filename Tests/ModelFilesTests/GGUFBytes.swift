// GGUFBytes: assembles GGUF files field by field, little-endian, for the malformed files GGUFWriter will
// not produce (bad type codes, lengths, dimensions, offsets, bytes that are not UTF-8).

import ModelFiles
import ProximaNumerics

/// Raw GGUF bytes, appended one field at a time.
struct GGUFBytes {
    var bytes: [UInt8] = []

    // MARK: Fields

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }

    /// A GGUF string: u64 length, then the bytes as given (not checked for UTF-8).
    mutating func string(_ raw: [UInt8]) { u64(UInt64(raw.count)); bytes.append(contentsOf: raw) }
    mutating func string(_ s: String) { string(Array(s.utf8)) }

    // MARK: Sections

    mutating func header(version: UInt32 = 3, tensors: UInt64, metadata: UInt64) {
        bytes.append(contentsOf: Array("GGUF".utf8))
        u32(version); u64(tensors); u64(metadata)
    }

    /// A key and its value type code; the caller appends the value.
    mutating func key(_ key: String, type: UInt32) { string(key); u32(type) }

    mutating func tensorInfo(_ name: String, dims: [UInt64], type: UInt32, offset: UInt64 = 0) {
        string(name)
        u32(UInt32(dims.count))
        for d in dims { u64(d) }
        u32(type); u64(offset)
    }

    /// Zero bytes up to the next multiple of `alignment`: where the data section starts.
    mutating func pad(to alignment: Int = 32) {
        while bytes.count % alignment != 0 { bytes.append(0) }
    }

    // MARK: Whole files

    /// A file with no tensors and one key of type `type` whose value bytes `value` appends.
    static func oneKey(_ key: String, type: GGUFValueType, value: (inout GGUFBytes) -> Void) -> [UInt8] {
        oneKey(Array(key.utf8), type: type.rawValue, value: value)
    }

    static func oneKey(_ key: [UInt8], type: UInt32, value: (inout GGUFBytes) -> Void) -> [UInt8] {
        var b = GGUFBytes()
        b.header(tensors: 0, metadata: 1)
        b.string(key); b.u32(type)
        value(&b)
        return b.bytes
    }

    /// A file with one tensor named `name` and `dataBytes` zero bytes of data after the aligned infos.
    static func oneTensor(_ name: String = "t", dims: [UInt64], type: UInt32, offset: UInt64 = 0, dataBytes: Int) -> [UInt8] {
        var b = GGUFBytes()
        b.header(tensors: 1, metadata: 0)
        b.tensorInfo(name, dims: dims, type: type, offset: offset)
        b.pad()
        b.bytes.append(contentsOf: [UInt8](repeating: 0, count: dataBytes))
        return b.bytes
    }
}
