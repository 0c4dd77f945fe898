// ClassifiedText: a text as Unicode scalars, each with the character class the pre-tokenizer patterns
// test (\p{L}, \p{N}, \s, anything else) and its byte offset in the UTF-8, computed once per encode.

// MARK: - Scalar classes

/// The classes the split patterns distinguish. White_Space wins over the general category.
enum ScalarClass: UInt8 {
    /// \p{L}: general categories Lu, Ll, Lt, Lm, Lo.
    case letter
    /// \p{N}: general categories Nd, Nl, No.
    case number
    /// \s: the Unicode White_Space property.
    case whitespace
    /// [^\s\p{L}\p{N}]: punctuation, symbols, marks, controls, emoji, …
    case other

    init(_ scalar: Unicode.Scalar) {
        if scalar.value < 128 {
            self = ScalarClass.ascii[Int(scalar.value)]
        } else {
            self = ScalarClass.classify(scalar)
        }
    }

    private static let ascii: [ScalarClass] = (0..<128).map { classify(Unicode.Scalar(UInt8($0))) }

    private static func classify(_ scalar: Unicode.Scalar) -> ScalarClass {
        let properties = scalar.properties
        if properties.isWhitespace { return .whitespace }
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
        case .decimalNumber, .letterNumber, .otherNumber: return .number
        default: return .other
        }
    }
}

// MARK: - Classified text

/// A text's scalars with their classes and UTF-8 offsets; pieces are ranges of scalar indices.
struct ClassifiedText {
    /// The UTF-8 bytes of the whole text.
    let utf8: [UInt8]
    /// Scalar values.
    private(set) var scalars: [UInt32] = []
    private(set) var classes: [ScalarClass] = []
    /// The UTF-8 offset where each scalar starts, plus one final entry: the byte count.
    private(set) var byteStarts: [Int] = []

    init(_ text: String) {
        utf8 = Array(text.utf8)
        let count = text.unicodeScalars.count
        scalars.reserveCapacity(count)
        classes.reserveCapacity(count)
        byteStarts.reserveCapacity(count + 1)
        var offset = 0
        for scalar in text.unicodeScalars {
            scalars.append(scalar.value)
            classes.append(ScalarClass(scalar))
            byteStarts.append(offset)
            offset += UTF8.width(scalar)
        }
        byteStarts.append(offset)
    }

    var count: Int { scalars.count }

    /// The UTF-8 byte range of a range of scalars.
    func byteRange(of scalarRange: Range<Int>) -> Range<Int> {
        byteStarts[scalarRange.lowerBound]..<byteStarts[scalarRange.upperBound]
    }
}
