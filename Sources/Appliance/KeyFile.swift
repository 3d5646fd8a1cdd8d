import CryptoPrimitives
import DurableFiles
import Keys
import SystemPackage

/// A 32-byte key in a file, raw or as 64 hexadecimal digits (white space around them allowed), read straight into
/// ``SecretBytes``: the bytes never pass through an ordinary array or string that would outlive the read unwiped.
public enum KeyFile {
    static let keyBytes = 32
    /// Room for the hexadecimal form with generous white space; a longer file is not a key file.
    private static let maximumFileBytes = 256

    public static func read(_ path: FilePath, in configuration: String) throws -> SecretBytes {
        var count = 0
        let contents: SecretBytes
        do {
            contents = try SecretBytes(count: maximumFileBytes + 1) { buffer in
                count = try FileSystemCalls.read(path, into: buffer)
            }
        } catch {
            throw ConfigurationError("\(configuration): cannot read the key \(path): \(error)")
        }
        let malformed = ConfigurationError(
            "\(configuration): \(path) is not a 32-byte key (raw, or 64 hexadecimal digits)")
        if count == keyBytes {
            return SecretBytes(count: keyBytes) { key in
                contents.withUnsafeBytes { key.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[..<keyBytes])) }
            }
        }
        guard count <= maximumFileBytes else { throw malformed }
        return try SecretBytes(count: keyBytes) { key in
            try contents.withUnsafeBytes { text in
                var digits = 0
                for byte in text[..<count] {
                    if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\t")
                        || byte == UInt8(ascii: "\r")
                    {
                        continue
                    }
                    guard let nibble = hexValue(byte), digits < 2 * keyBytes else { throw malformed }
                    key[digits / 2] |= digits % 2 == 0 ? nibble << 4 : nibble
                    digits += 1
                }
                guard digits == 2 * keyBytes else { throw malformed }
            }
        }
    }

    /// The longest PEM key file read: a P-256 key is about 240 bytes, and room is left for comment lines.

    /// A PEM key file (a receipt-signing key, for example), read straight into ``SecretBytes`` of exactly its length:
    /// the text never passes through an ordinary array or string.
    static func readPEM(_ path: FilePath, in configuration: String) throws -> SecretBytes {
        do {
            return try SecretFile.read(path.string)
        } catch {
            throw ConfigurationError("\(configuration): cannot read the key \(path): \(error)")
        }
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
