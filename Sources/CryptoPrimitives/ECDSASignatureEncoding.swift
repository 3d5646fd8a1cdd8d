/// The two encodings of an ECDSA P-256 signature (r, s): raw, `r || s` as two 32-byte big-endian numbers (what a
/// receipt and a TPM carry), and DER, `SEQUENCE { INTEGER r, INTEGER s }` (RFC 3279 section 2.2.3; what OpenSSL,
/// X.509 and most tools carry).
///
/// The DER parser faces files and the network, so it is strict: it accepts exactly the one DER encoding of a pair
/// with 1 ≤ r, s < n (the group order) and refuses everything else, BER's other spellings (long-form lengths,
/// leading zero bytes, a negative number), trailing bytes, and numbers no P-256 signature can hold. Both directions
/// accept the same set of signatures, so `der(fromRaw:)` and `raw(fromDER:)` are inverses wherever either succeeds.
public enum ECDSASignatureEncoding {
    /// The length of a raw P-256 signature: r and s, 32 bytes each.
    public static let rawByteCount = 64

    /// The longest DER encoding of a P-256 signature: two 33-byte integers (a leading zero byte before a number
    /// whose top bit is set), each with a tag and a length byte, in a sequence with its tag and length byte.
    public static let maximumDERByteCount = 72

    /// The order n of the P-256 group (FIPS 186-4 D.1.2.3): r and s lie in [1, n - 1].
    static let order: [UInt8] = [
        0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51,
    ]

    private static let scalarByteCount = 32
    private static let sequenceTag: UInt8 = 0x30
    private static let integerTag: UInt8 = 0x02

    /// The DER encoding of a raw `r || s` signature.
    ///
    /// - Throws: `CryptoError.invalidArgument` unless there are 64 bytes and both numbers lie in [1, n - 1].
    public static func der(fromRaw raw: [UInt8]) throws -> [UInt8] {
        guard raw.count == rawByteCount else {
            throw CryptoError.invalidArgument(
                "a raw P-256 signature must be \(rawByteCount) bytes (r || s), got \(raw.count)")
        }
        let r = raw[..<scalarByteCount]
        let s = raw[scalarByteCount...]
        guard isScalarInRange(r), isScalarInRange(s) else {
            throw CryptoError.invalidArgument("a P-256 signature's r and s must lie in [1, n - 1]")
        }
        let content = integer(r) + integer(s)
        // At most 70 content bytes: the short length form always applies.
        return [sequenceTag, UInt8(content.count)] + content
    }

    /// The raw `r || s` form of a DER-encoded signature.
    ///
    /// - Throws: `CryptoError.invalidArgument` unless `der` is exactly the DER encoding of a pair in [1, n - 1].
    public static func raw(fromDER der: [UInt8]) throws -> [UInt8] {
        guard der.count >= 2, der.count <= maximumDERByteCount, der[0] == sequenceTag else {
            throw malformed("it is not a DER SEQUENCE of at most \(maximumDERByteCount) bytes")
        }
        // A length byte with its top bit set is the long form, which DER forbids for lengths below 128.
        guard der[1] < 0x80, Int(der[1]) == der.count - 2 else {
            throw malformed("the SEQUENCE's length is not the one DER gives its \(der.count - 2) content bytes")
        }
        var index = 2
        let r = try readInteger(der, at: &index, name: "r")
        let s = try readInteger(der, at: &index, name: "s")
        guard index == der.count else { throw malformed("bytes follow s") }
        return r + s
    }

    /// One INTEGER of a signature, read at `index`, as 32 big-endian bytes.
    private static func readInteger(_ der: [UInt8], at index: inout Int, name: String) throws -> [UInt8] {
        guard index + 2 <= der.count, der[index] == integerTag else {
            throw malformed("\(name) is not an INTEGER")
        }
        let length = Int(der[index + 1])
        // 33 bytes at most: a 32-byte number with its top bit set, after a zero byte that keeps it positive.
        guard (1...scalarByteCount + 1).contains(length), index + 2 + length <= der.count else {
            throw malformed("\(name)'s length \(length) does not fit a P-256 scalar or the signature")
        }
        var value = der[(index + 2)..<(index + 2 + length)]
        index += 2 + length
        guard value.first! & 0x80 == 0 else { throw malformed("\(name) is negative") }
        if value.count > 1 && value.first == 0 {
            guard value[value.startIndex + 1] & 0x80 != 0 else {
                throw malformed("\(name) has a leading zero byte that DER does not allow")
            }
            value = value.dropFirst()
        }
        guard value.count <= scalarByteCount else { throw malformed("\(name) is longer than 32 bytes") }
        let scalar = [UInt8](repeating: 0, count: scalarByteCount - value.count) + value
        guard isScalarInRange(scalar[...]) else { throw malformed("\(name) does not lie in [1, n - 1]") }
        return scalar
    }

    /// The minimal INTEGER encoding of a 32-byte big-endian number greater than zero.
    private static func integer(_ scalar: ArraySlice<UInt8>) -> [UInt8] {
        var value = Array(scalar.drop { $0 == 0 })
        if value.first! & 0x80 != 0 { value.insert(0, at: 0) }
        return [integerTag, UInt8(value.count)] + value
    }

    /// Whether a 32-byte big-endian number lies in [1, n - 1].
    private static func isScalarInRange(_ scalar: ArraySlice<UInt8>) -> Bool {
        guard scalar.contains(where: { $0 != 0 }) else { return false }
        // Big-endian numbers of the same length compare as their bytes do.
        return scalar.lexicographicallyPrecedes(order)
    }

    private static func malformed(_ reason: String, file: String = #fileID, line: Int = #line) -> CryptoError {
        CryptoError.invalidArgument("not a DER-encoded P-256 ECDSA signature: \(reason)", file: file, line: line)
    }
}
