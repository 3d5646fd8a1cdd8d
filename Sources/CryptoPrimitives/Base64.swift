/// Base64 (RFC 4648) between buffers of ``SecretBytes``, for PEM key files: no intermediate string or array
/// holds the key.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// The value of a base64 digit, or nil.
    private static func value(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): digit - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): digit - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0") + 52
        case UInt8(ascii: "+"): 62
        case UInt8(ascii: "/"): 63
        default: nil
        }
    }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r")
            || byte == UInt8(ascii: "\t")
    }

    /// Decodes a PEM body: digits in lines, white space anywhere, `=` padding only at the end.
    static func decodeSecret(_ text: UnsafeRawBufferPointer) throws -> SecretBytes {
        let malformed = CryptoError.invalidArgument("not a P-256 private key in PEM: the body is not base64")
        var digits = 0
        var padding = 0
        for byte in text where !isSpace(byte) {
            if byte == UInt8(ascii: "=") {
                padding += 1
            } else {
                guard padding == 0, value(byte) != nil else { throw malformed }
                digits += 1
            }
        }
        guard (digits + padding) % 4 == 0, padding <= 2, digits > 0 else { throw malformed }
        return try SecretBytes(count: digits * 3 / 4) { output in
            var accumulator: UInt32 = 0
            var bits = 0
            var written = 0
            for byte in text where !isSpace(byte) && byte != UInt8(ascii: "=") {
                accumulator = accumulator << 6 | UInt32(value(byte)!)
                bits += 6
                if bits >= 8 {
                    bits -= 8
                    output[written] = UInt8(truncatingIfNeeded: accumulator >> UInt32(bits))
                    written += 1
                }
            }
            // The bits left over are padding and must be zero, or the text has two spellings.
            guard accumulator & ((1 << UInt32(bits)) - 1) == 0 else { throw malformed }
            accumulator = 0
        }
    }

    /// A PEM block of `label` around `bytes`: base64 in lines of 64, each line ended by a line feed.
    static func encodeSecretPEM(_ bytes: UnsafeRawBufferPointer, label: String) -> SecretBytes {
        let begin = Array("-----BEGIN \(label)-----\n".utf8)
        let end = Array("-----END \(label)-----\n".utf8)
        let digits = (bytes.count + 2) / 3 * 4
        let lines = (digits + 63) / 64
        return SecretBytes(count: begin.count + digits + lines + end.count) { output in
            output.copyBytes(from: begin)
            var written = begin.count
            var lineDigits = 0
            func put(_ byte: UInt8) {
                output[written] = byte
                written += 1
                lineDigits += 1
                if lineDigits == 64 {
                    output[written] = UInt8(ascii: "\n")
                    written += 1
                    lineDigits = 0
                }
            }
            var index = 0
            while index < bytes.count {
                let count = min(3, bytes.count - index)
                var group: UInt32 = 0
                for offset in 0..<3 {
                    group = group << 8 | UInt32(offset < count ? bytes[index + offset] : 0)
                }
                for position in 0..<4 {
                    let digit = Int(group >> UInt32(18 - 6 * position) & 0x3F)
                    put(position <= count ? alphabet[digit] : UInt8(ascii: "="))
                }
                group = 0
                index += 3
            }
            if lineDigits > 0 {
                output[written] = UInt8(ascii: "\n")
                written += 1
            }
            UnsafeMutableRawBufferPointer(rebasing: output[written...]).copyBytes(from: end)
        }
    }
}
