import CryptoPrimitives
import StreamStore

/// The keys the engine works with, each for one job, so that a service can be given only what its job needs.
///
/// - The storage **public** key wraps each committed segment's fresh data key (RFC 9180 HPKE): enough to write.
/// - The storage **private** key unwraps them: needed only to read committed segments. A store is given an opener
///   (``SegmentKeyOpener``) rather than the key, so that the key may stay in the keys service.
/// - The **journal** key encrypts the open tail of each stream (bytes acknowledged but not yet folded into an
///   erasure-coded segment). The writer needs it to resume after a crash: the tail's plaintext is needed to continue
///   the hash chain and to fold the tail into its segment. It opens nothing but open tails.
public struct StorageKeys: Sendable {
    /// Wraps segment keys.
    public let storagePublicKey: X25519PublicKey
    /// Unwraps segment keys; nil for a writer that never reads committed segments.
    public let segmentKeys: (any SegmentKeyOpener)?
    /// Encrypts and decrypts open tails.
    public let journalKey: SecretBytes

    /// Creates the key set with an opener of segment keys held elsewhere (or none).
    public init(
        storagePublicKey: X25519PublicKey, segmentKeys: (any SegmentKeyOpener)?, journalKey: SecretBytes
    ) throws(StreamStorageError) {
        guard journalKey.count == 32 else { throw .configuration("the journal key must be 32 bytes") }
        self.storagePublicKey = storagePublicKey
        self.segmentKeys = segmentKeys
        self.journalKey = journalKey
    }

    /// Creates the key set with the storage private key in this process (or none).
    public init(
        storagePublicKey: X25519PublicKey, storagePrivateKey: X25519PrivateKey?, journalKey: SecretBytes
    )
        throws(StreamStorageError)
    {
        guard journalKey.count == 32 else { throw .configuration("the journal key must be 32 bytes") }
        if let storagePrivateKey, storagePrivateKey.publicKey != storagePublicKey {
            throw .configuration("the storage private key does not belong to the storage public key")
        }
        self.storagePublicKey = storagePublicKey
        self.segmentKeys = storagePrivateKey.map { PrivateKeySegmentOpener(privateKey: $0) }
        self.journalKey = journalKey
    }

    package func requireSegmentKeys() throws(StreamStorageError) -> any SegmentKeyOpener {
        guard let segmentKeys else {
            throw .configuration(
                "reading committed segments needs their keys, which this store is not given: on the appliance, "
                    + "restores are served by the reader service (saatkond reader), not by ingest")
        }
        return segmentKeys
    }
}
