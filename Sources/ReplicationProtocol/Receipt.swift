import HashChain
import NIOCore

/// The appliance's signed statement that a stream was durable up to a length with a head, at a time.
///
/// The signed bytes are ``signedContent``: a fixed label, then the fields in order, so that any implementation can
/// rebuild them and check the signature with the appliance's public key alone. The receipt names the key that
/// signed it (``keyID``), so that a verifier holding several keys (a TPM key replaced, several appliances) knows
/// which one to use, and says which it expected when the receipt names another.
public struct Receipt: Hashable, Sendable {
    /// The stream.
    public var stream: String
    /// Its durable length.
    public var durableLength: UInt64
    /// Its hash-chain head at that length.
    public var head: ChainHead
    /// When the receipt was made, in milliseconds since 1970 (UTC).
    public var millisecondsSince1970: UInt64
    /// The appliance's name.
    public var appliance: String
    /// The signing key's identifier, for a P-256 key `p256:` and the first 16 hexadecimal digits of the SHA-256 of
    /// its uncompressed point (see ``isValidKeyID(_:)`` for what any identifier may hold).
    public var keyID: String
    /// The ECDSA P-256 signature with SHA-256 over ``signedContent``, raw: r || s, 32 bytes each.
    public var signature: [UInt8]

    /// Creates a receipt.
    public init(
        stream: String, durableLength: UInt64, head: ChainHead, millisecondsSince1970: UInt64, appliance: String,
        keyID: String, signature: [UInt8]
    ) {
        self.stream = stream
        self.durableLength = durableLength
        self.head = head
        self.millisecondsSince1970 = millisecondsSince1970
        self.appliance = appliance
        self.keyID = keyID
        self.signature = signature
    }

    /// The length of a signature: ECDSA P-256, r || s.
    public static let signatureByteCount = 64

    /// The longest key identifier, in bytes.
    public static let maximumKeyIDBytes = 64

    /// Whether `keyID` may name a signing key: 1 to ``maximumKeyIDBytes`` bytes of `a-z`, `0-9`, `:`, `.`, `_` and
    /// `-`, so that it shows as it is on any screen and in any file, and fits a line of the text form.
    public static func isValidKeyID(_ keyID: String) -> Bool {
        (1...maximumKeyIDBytes).contains(keyID.utf8.count)
            && keyID.utf8.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                    || Array(":._-".utf8).contains(byte)
            }
    }

    /// Version 2: the key identifier joined the signed fields (version 1 was signed with Ed25519 and named no key).
    private static let label = Array("saatkond receipt v2".utf8)

    /// The bytes the signature covers: the label, then stream, length, head, time, appliance and key identifier.
    public var signedContent: [UInt8] {
        var buffer = ByteBuffer()
        buffer.writeBytes(Self.label)
        buffer.writeLengthPrefixed(stream)
        buffer.writeInteger(durableLength)
        buffer.writeBytes(head.bytes)
        buffer.writeInteger(millisecondsSince1970)
        buffer.writeLengthPrefixed(appliance)
        buffer.writeLengthPrefixed(keyID)
        return Array(buffer.readableBytesView)
    }
}

extension ByteBuffer {
    mutating func writeLengthPrefixed(_ string: String) {
        let bytes = Array(string.utf8.prefix(Int(UInt16.max)))
        writeInteger(UInt16(bytes.count))
        writeBytes(bytes)
    }

    mutating func readLengthPrefixedString() -> String? {
        guard let length = readInteger(as: UInt16.self), let bytes = readBytes(length: Int(length)) else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }
}
