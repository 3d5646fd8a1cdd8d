import HashChain
import NIOCore

/// The appliance's signed statement that a stream was durable up to a length with a head, at a time.
///
/// The signed bytes are ``signedContent``: a fixed label, then the fields in order, so that any implementation can
/// rebuild them and check the signature with the appliance's public key alone.
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
    /// The Ed25519 signature over ``signedContent``.
    public var signature: [UInt8]

    /// Creates a receipt.
    public init(
        stream: String, durableLength: UInt64, head: ChainHead, millisecondsSince1970: UInt64, appliance: String,
        signature: [UInt8]
    ) {
        self.stream = stream
        self.durableLength = durableLength
        self.head = head
        self.millisecondsSince1970 = millisecondsSince1970
        self.appliance = appliance
        self.signature = signature
    }

    private static let label = Array("saatkond receipt v1".utf8)

    /// The bytes the signature covers: the label, then stream, length, head, time and appliance.
    public var signedContent: [UInt8] {
        var buffer = ByteBuffer()
        buffer.writeBytes(Self.label)
        buffer.writeLengthPrefixed(stream)
        buffer.writeInteger(durableLength)
        buffer.writeBytes(head.bytes)
        buffer.writeInteger(millisecondsSince1970)
        buffer.writeLengthPrefixed(appliance)
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
