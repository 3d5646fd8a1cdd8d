import CryptoPrimitives
import HPKE
import StreamStore

/// Unwraps the data key of a committed segment: the one step of reading that needs the storage private key.
///
/// Kept apart from the store so that the private key can live in another process: the keys service holds it and
/// answers one unwrap at a time over its socket (`KeysClient`), while the store that reads the shards never sees it.
/// An opener that lives in the same process (``PrivateKeySegmentOpener``) serves tools at home that hold a key
/// recovered from escrow, and tests.
public protocol SegmentKeyOpener: Sendable {
    /// The data key wrapped (RFC 9180 HPKE, ``SegmentKeyWrapping``) in `wrapped`; throws when it does not open.
    func openSegmentKey(_ wrapped: WrappedSegmentKey) throws -> SecretBytes
}

/// What a segment's header carries to recover its data key: the HPKE encapsulated key and ciphertext, and the
/// segment's description (array, stream, segment, geometry, lengths), which the wrapping authenticates.
public struct WrappedSegmentKey: Sendable, Hashable {
    /// The stream the segment belongs to, as the description names it (for an authorisation check and messages).
    public var stream: String
    /// The segment's number in its stream.
    public var segment: UInt64
    /// HPKE's encapsulated key (X25519, 32 bytes).
    public var encapsulatedKey: [UInt8]
    /// The wrapped data key with its tag.
    public var ciphertext: [UInt8]
    /// The segment description the wrapping binds as additional data.
    public var description: [UInt8]

    /// Creates a wrapped key.
    public init(stream: String, segment: UInt64, encapsulatedKey: [UInt8], ciphertext: [UInt8], description: [UInt8]) {
        self.stream = stream
        self.segment = segment
        self.encapsulatedKey = encapsulatedKey
        self.ciphertext = ciphertext
        self.description = description
    }
}

extension WrappedSegmentKey {
    /// The stream and segment that the description names, nil when it is not a segment description. The wrapping
    /// authenticates the description, so a keys service that holds a request's names to these knows whose key it
    /// unwraps: a reader cannot have one stream's key opened under another stream's name.
    public var describedSegment: (stream: String, segment: UInt64)? {
        var reader = ByteReader(description)
        guard (try? reader.read(count: ShardHeader.magic.count)) == ShardHeader.magic,
            (try? reader.read(count: 16)) != nil, let stream = try? reader.readString(),
            let segment: UInt64 = try? reader.read()
        else { return nil }
        return (stream, segment)
    }
}

/// The wrapping of segment data keys, in one place for the writer, the store's own opener and the keys service.
public enum SegmentKeyWrapping {
    static let info = Array("saatkond segment key v1".utf8)

    /// Opens a wrapped data key with the storage private key.
    public static func open(_ wrapped: WrappedSegmentKey, with privateKey: X25519PrivateKey) throws -> SecretBytes {
        try HPKE.open(
            encapsulatedKey: wrapped.encapsulatedKey, ciphertext: wrapped.ciphertext, recipient: privateKey,
            info: info, additionalData: wrapped.description)
    }
}

/// Opens segment keys with a storage private key held in this process.
public struct PrivateKeySegmentOpener: SegmentKeyOpener {
    /// The storage private key.
    public let privateKey: X25519PrivateKey

    /// An opener with `privateKey`.
    public init(privateKey: X25519PrivateKey) {
        self.privateKey = privateKey
    }

    public func openSegmentKey(_ wrapped: WrappedSegmentKey) throws -> SecretBytes {
        try SegmentKeyWrapping.open(wrapped, with: privateKey)
    }
}

/// Thrown by an opener that could not try: the keys are locked or zeroized, or their service is unreachable or
/// refuses this caller. Readers report it as the reason a restore cannot go on; it never marks a shard damaged.
public struct SegmentKeyUnavailable: Error, CustomStringConvertible, Sendable {
    /// Why, for the reader.
    public let description: String

    /// An error saying `description`.
    public init(_ description: String) {
        self.description = description
    }
}
