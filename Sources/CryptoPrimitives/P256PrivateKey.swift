internal import CLibcrypto

/// An ECDSA P-256 private key (FIPS 186-4, secp256r1) for signing with SHA-256: in software, where the key is not
/// in a TPM (development, tests, and a signing key kept in a file).
///
/// OpenSSL keeps the private scalar of an EC key in its secure heap when one is set up (``SecureHeap``): locked,
/// left out of core dumps and wiped on free. Unlike an Ed25519 seed, it need not be re-imported for each signature.
/// Key files are read and written by ``ECPrivateKeyPEM`` in ``SecretBytes``, never by OpenSSL's PEM coders.
///
/// Thread safety: all stored properties are immutable, and the OpenSSL key is only read, by operations that each
/// make their own context (see `PKey`); so sharing a key between threads is safe.
public final class P256PrivateKey: @unchecked Sendable {
    private let key: PKey

    /// The matching public key, to give to verifiers.
    public let publicKey: P256PublicKey

    /// Generates a new random key from OpenSSL's private generator.
    ///
    /// - Throws: `CryptoError` if the generator or OpenSSL fails.
    public convenience init() throws {
        try self.init(key: PKey.generateP256())
    }

    /// Reads a PEM private key, as read from a key file straight into ``SecretBytes``: an unencrypted PKCS#8
    /// `-----BEGIN PRIVATE KEY-----` block (what ``pemRepresentation`` and `openssl genpkey` write), or a SEC 1
    /// `-----BEGIN EC PRIVATE KEY-----` block (what `openssl ecparam -genkey` writes), with its public key. Text
    /// around the block is ignored.
    ///
    /// - Throws: `CryptoError` if there is no such block, it is encrypted, holds a key of another kind, or its
    ///   public key is not its private key's.
    public convenience init(pemRepresentation pem: SecretBytes) throws {
        let decoded = try pem.withUnsafeBytes { try ECPrivateKeyPEM.decode($0) }
        try self.init(key: PKey.p256PrivateKey(scalar: decoded.scalar, point: decoded.point))
    }

    private init(key: PKey) throws {
        guard key.isP256 else {
            throw CryptoError.invalidArgument("the private key is not an elliptic-curve key on P-256 (prime256v1)")
        }
        self.key = key
        publicKey = try P256PublicKey(uncompressedRepresentation: key.uncompressedP256Point())
    }

    /// The key as an unencrypted PKCS#8 PEM block (`-----BEGIN PRIVATE KEY-----`, as `openssl genpkey` writes it),
    /// for a key file: made in ``SecretBytes``, to be written to the file from there.
    ///
    /// - Throws: `CryptoError` if OpenSSL fails.
    public var pemRepresentation: SecretBytes {
        get throws {
            ECPrivateKeyPEM.encode(scalar: try key.p256Scalar(), point: publicKey.uncompressedRepresentation)
        }
    }

    /// Signs `message` with ECDSA and SHA-256; returns the signature raw, r || s (64 bytes). Signatures are
    /// randomized: the same message signed twice gives different bytes, both valid.
    ///
    /// - Throws: `CryptoError` if OpenSSL fails.
    public func signature(for message: [UInt8]) throws -> [UInt8] {
        OpenSSL.beginOperation()
        let context = try DigestContext()
        let der = try context.withUnsafePointer { context in
            try key.withUnsafePointer { key in
                try OpenSSL.check(
                    EVP_DigestSignInit_ex(context, nil, "SHA256", nil, nil, key, nil), "EVP_DigestSignInit_ex(P-256)")
            }
            var signature = [UInt8](repeating: 0, count: ECDSASignatureEncoding.maximumDERByteCount)
            var length = signature.count
            let result = message.withNonNullBytes { message, messageCount in
                EVP_DigestSign(context, &signature, &length, message.assumingMemoryBound(to: UInt8.self), messageCount)
            }
            try OpenSSL.check(result, "EVP_DigestSign(P-256)")
            return Array(signature.prefix(length))
        }
        return try ECDSASignatureEncoding.raw(fromDER: der)
    }
}
