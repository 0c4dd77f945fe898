// ByteLevelAlphabet: GPT-2's reversible spelling of the 256 byte values as printable Unicode characters,
// which byte-level BPE vocabularies use for their token strings (a space is spelled "Ġ", a newline "Ċ").

// MARK: - The map

/// Byte ↔ character map of byte-level BPE. Bytes that are printable Latin-1 ('!'…'~', '¡'…'¬', '®'…'ÿ')
/// stand for themselves; the other 68 are given the code points 256, 257, … in byte order.
enum ByteLevelAlphabet {
    /// The character spelling each byte, indexed by byte value.
    static let characterOfByte: [Unicode.Scalar] = {
        var scalars: [Unicode.Scalar] = []
        scalars.reserveCapacity(256)
        var nextExtra: UInt32 = 256
        for byte in 0..<256 {
            if standsForItself(UInt8(byte)) {
                scalars.append(Unicode.Scalar(UInt32(byte))!)
            } else {
                scalars.append(Unicode.Scalar(nextExtra)!)
                nextExtra += 1
            }
        }
        return scalars
    }()

    /// The byte a character spells, or nil for characters outside the alphabet.
    static func byte(of scalar: Unicode.Scalar) -> UInt8? {
        let value = scalar.value
        if value < 256 { return standsForItself(UInt8(value)) ? UInt8(value) : nil }
        guard value < 256 + 68 else { return nil }
        return byteOfExtra[Int(value - 256)]
    }

    /// The one-character spelling of a byte.
    static func spelling(of byte: UInt8) -> String { String(Character(characterOfByte[Int(byte)])) }

    /// The raw bytes a byte-level spelling stands for, or nil when a character lies outside the alphabet.
    static func bytes(ofSpelling spelling: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(spelling.unicodeScalars.count)
        for scalar in spelling.unicodeScalars {
            guard let byte = byte(of: scalar) else { return nil }
            bytes.append(byte)
        }
        return bytes
    }

    // MARK: Details

    private static func standsForItself(_ byte: UInt8) -> Bool {
        (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
    }

    /// Bytes that do not stand for themselves, in order: the byte spelled by code point 256 + index.
    private static let byteOfExtra: [UInt8] = (0...255).map(UInt8.init).filter { !standsForItself($0) }
}
