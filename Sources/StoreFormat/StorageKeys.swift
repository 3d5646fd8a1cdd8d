import CryptoPrimitives
import StreamStore

/// The keys the engine works with, each for one job, so that a service can be given only what its job needs.
///
/// - The storage **public** key wraps each committed segment's fresh data key (RFC 9180 HPKE): enough to write.
/// - The storage **private** key unwraps them: needed only to read committed segments.
/// - The **journal** key encrypts the open tail of each stream (bytes acknowledged but not yet folded into an
///   erasure-coded segment). The writer needs it to resume after a crash: the tail's plaintext is needed to continue
///   the hash chain and to fold the tail into its segment. It opens nothing but open tails.
public struct StorageKeys: Sendable {
    /// Wraps segment keys.
    public let storagePublicKey: X25519PublicKey
    /// Unwraps segment keys; nil for a writer that never reads committed segments.
    public let storagePrivateKey: X25519PrivateKey?
    /// Encrypts and decrypts open tails.
    public let journalKey: SecretBytes

    /// Creates the key set.
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
        self.storagePrivateKey = storagePrivateKey
        self.journalKey = journalKey
    }

    package func requirePrivateKey() throws(StreamStorageError) -> X25519PrivateKey {
        guard let storagePrivateKey else {
            throw .configuration("reading committed segments needs the storage private key, which this store lacks")
        }
        return storagePrivateKey
    }
}
