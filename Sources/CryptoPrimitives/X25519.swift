internal import CLibcrypto

/// An X25519 public key (RFC 7748): 32 bytes, the u-coordinate of a point.
public struct X25519PublicKey: Sendable, Hashable {
    /// The length of a raw X25519 public key.
    public static let byteCount = 32

    /// The 32 bytes as RFC 7748 encodes them (little-endian u-coordinate).
    public let rawRepresentation: [UInt8]

    /// Wraps received key bytes.
    ///
    /// Only the length can be checked here: every 32-byte string is a valid X25519 input. Keys of low order
    /// are caught by `X25519PrivateKey.sharedSecret(with:)`, which refuses an all-zero result.
    ///
    /// - Throws: `CryptoError.invalidArgument` unless there are exactly 32 bytes.
    public init(rawRepresentation: [UInt8]) throws {
        guard rawRepresentation.count == Self.byteCount else {
            throw CryptoError.invalidArgument(
                "X25519 public key must be \(Self.byteCount) bytes, got \(rawRepresentation.count)"
            )
        }
        self.rawRepresentation = rawRepresentation
    }
}

/// An X25519 private key (RFC 7748) for Diffie-Hellman key agreement, as used by HPKE's DHKEM(X25519).
///
/// Thread safety: all stored properties are immutable, and the OpenSSL key is only read, by operations that
/// each make their own context (see `PKey`); so sharing a key between threads is safe.
public final class X25519PrivateKey: @unchecked Sendable {
    private let key: PKey

    /// The matching public key, to send to the peer.
    public let publicKey: X25519PublicKey

    /// The 32 private bytes, for storing the key sealed, or for deterministic derivation (HPKE DeriveKeyPair).
    public let rawRepresentation: SecretBytes

    /// Generates a new random key from OpenSSL's private generator.
    ///
    /// - Throws: `CryptoError` if the generator or OpenSSL fails.
    public convenience init() throws {
        try self.init(rawRepresentation: CryptoRandom.secretBytes(count: PKeyType.rawByteCount))
    }

    /// Uses 32 given bytes as the private scalar; clamping (RFC 7748 section 5) is applied by X25519 itself,
    /// so any 32 bytes are a valid key and the same bytes always give the same key.
    ///
    /// - Throws: `CryptoError.invalidArgument` unless there are exactly 32 bytes, or `CryptoError` if OpenSSL
    ///   fails.
    public init(rawRepresentation: SecretBytes) throws {
        guard rawRepresentation.count == PKeyType.rawByteCount else {
            throw CryptoError.invalidArgument(
                "X25519 private key must be \(PKeyType.rawByteCount) bytes, got \(rawRepresentation.count)"
            )
        }
        key = try PKey(type: .x25519, privateKey: rawRepresentation)
        publicKey = try X25519PublicKey(rawRepresentation: key.rawPublicKey())
        self.rawRepresentation = rawRepresentation
    }

    /// Computes the 32-byte X25519 shared secret with a peer's public key.
    ///
    /// Use it only as input keying material for a KDF (for example `HKDFSHA256.extract`), never as a key.
    ///
    /// - Throws: `CryptoError` if the result is all zeros, which happens exactly when the peer sent a key of
    ///   low order (RFC 7748 section 6.1 and RFC 9180 require refusing it), or if OpenSSL fails.
    public func sharedSecret(with peer: X25519PublicKey) throws -> SecretBytes {
        let peerKey = try PKey(type: .x25519, publicKey: peer.rawRepresentation)
        OpenSSL.beginOperation()
        let context = try PKeyContext(key: key)
        return try context.withUnsafePointer { context in
            try OpenSSL.check(EVP_PKEY_derive_init(context), "EVP_PKEY_derive_init(X25519)")
            try OpenSSL.check(
                peerKey.withUnsafePointer { EVP_PKEY_derive_set_peer(context, $0) },
                "EVP_PKEY_derive_set_peer(X25519)"
            )
            return try SecretBytes(count: PKeyType.rawByteCount) { output in
                var length = output.count
                let result = EVP_PKEY_derive(context, output.baseAddress!.assumingMemoryBound(to: UInt8.self), &length)
                try OpenSSL.check(result, "EVP_PKEY_derive(X25519)")
                guard length == PKeyType.rawByteCount else {
                    throw CryptoError.library("EVP_PKEY_derive(X25519) returned \(length) bytes")
                }
            }
        }
    }
}
