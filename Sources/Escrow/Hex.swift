import CryptoPrimitives

/// Lower-case hexadecimal, the form every key and share takes in escrow files.
///
/// Secret bytes are converted without branches or tables on their values (the `secret…` functions), so the
/// conversion leaks nothing through timing; public values (keys, ciphertexts) use the plain path.
enum Hex {
    static func encode(_ bytes: [UInt8]) -> String {
        var text = ""
        text.reserveCapacity(2 * bytes.count)
        for byte in bytes {
            text.unicodeScalars.append(Unicode.Scalar(digit(byte >> 4)))
            text.unicodeScalars.append(Unicode.Scalar(digit(byte & 0x0F)))
        }
        return text
    }

    /// Decodes exactly `byteCount` bytes (or any even number of digits when nil); nil for anything else, upper
    /// case included, so that each value has one spelling.
    static func decode(_ text: String, byteCount: Int? = nil) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count.isMultiple(of: 2), byteCount.map({ digits.count == 2 * $0 }) ?? true else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        for pair in stride(from: 0, to: digits.count, by: 2) {
            let high = value(digits[pair])
            let low = value(digits[pair + 1])
            guard high >= 0, low >= 0 else { return nil }
            bytes.append(UInt8(high << 4 | low))
        }
        return bytes
    }

    /// Writes the hexadecimal of `secret` into `output`, which must hold exactly twice as many bytes.
    static func encodeSecret(_ secret: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) {
        precondition(output.count == 2 * secret.count, "two digits per byte")
        for index in 0..<secret.count {
            output[2 * index] = digit(secret[index] >> 4)
            output[2 * index + 1] = digit(secret[index] & 0x0F)
        }
    }

    /// Decodes the hexadecimal in `text` into `output` (half as many bytes); false if a digit is not lower-case
    /// hexadecimal. Every digit is looked at, valid or not, so the time does not depend on where a bad one is.
    static func decodeSecret(_ text: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Bool {
        precondition(text.count == 2 * output.count, "two digits per byte")
        var invalid = 0
        for index in 0..<output.count {
            let high = value(text[2 * index])
            let low = value(text[2 * index + 1])
            invalid |= high | low
            output[index] = UInt8(truncatingIfNeeded: high << 4 | low)
        }
        return invalid >= 0
    }

    /// The digit of a nibble: '0' + n, plus the 39 that lead from ':' to 'a' when n > 9, chosen by a mask.
    private static func digit(_ nibble: UInt8) -> UInt8 {
        let n = Int(nibble)
        return UInt8(truncatingIfNeeded: n + 48 + (((9 - n) >> 8) & 39))
    }

    /// The value of a lower-case hexadecimal digit, or -1: each range test is a sign bit turned into a mask.
    private static func value(_ character: UInt8) -> Int {
        let c = Int(character)
        let decimal = c - 48
        let letter = c - 97
        let isDecimal = ~((decimal | (9 - decimal)) >> 8)
        let isLetter = ~((letter | (5 - letter)) >> 8)
        return (decimal & isDecimal) | ((letter + 10) & isLetter) | ~(isDecimal | isLetter)
    }
}
