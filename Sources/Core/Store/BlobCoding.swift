// BlobCoding: token ids as little-endian Int32 blobs and log-probs as little-endian Float32 blobs, the
// byte layout of the requests and samples tables (4 bytes per token, so both blobs of a sample have one length).

import Foundation

// MARK: - Blob coding

package enum BlobCoding {
    /// Token ids as Int32 LE (ids were checked to fit by `StoreRules`).
    package static func tokenBlob(_ ids: [Int]) -> Data {
        var data = Data(capacity: ids.count * 4)
        for id in ids {
            withUnsafeBytes(of: Int32(truncatingIfNeeded: id).littleEndian) { data.append(contentsOf: $0) }
        }
        return data
    }

    package static func tokenIDs(_ blob: Data, column: String) throws -> [Int] {
        try words(blob, column: column).map { Int(Int32(bitPattern: $0)) }
    }

    /// Log-probs as Float32 LE.
    package static func logprobBlob(_ values: [Float]) -> Data {
        var data = Data(capacity: values.count * 4)
        for value in values {
            withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) }
        }
        return data
    }

    package static func logprobs(_ blob: Data, column: String) throws -> [Float] {
        try words(blob, column: column).map(Float.init(bitPattern:))
    }

    /// The blob's 32-bit little-endian words.
    private static func words(_ blob: Data, column: String) throws -> [UInt32] {
        guard blob.count % 4 == 0 else {
            throw StoreError.corruptRow(table: column, detail: "a blob of \(blob.count) bytes is not a whole number of 4-byte values")
        }
        return blob.withUnsafeBytes { raw in
            (0..<blob.count / 4).map { UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)) }
        }
    }
}
