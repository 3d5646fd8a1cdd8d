internal import CLibcrypto

/// An Ed25519 public key (RFC 8032), for verifying signatures.
public struct Ed25519PublicKey: Sendable, Hashable {
    /// The length of a raw Ed25519 public key.
    public static let byteCount = 32

    /// The 32 bytes as RFC 8032 section 5.1.5 encodes them.
    public let rawRepresentation: [UInt8]

    /// Wraps received key bytes. Whether they encode a curve point is found out by `isValidSignature`, which
    /// then returns false.
    ///
    /// - Throws: `CryptoError.invalidArgument` unless there are exactly 32 bytes.
    public init(rawRepresentation: [UInt8]) throws {
        guard rawRepresentation.count == Self.byteCount else {
            throw CryptoError.invalidArgument(
                "Ed25519 public key must be \(Self.byteCount) bytes, got \(rawRepresentation.count)"
            )
        }
        self.rawRepresentation = rawRepresentation
    }

    /// Whether `signature` is a valid Ed25519 signature of `message` by this key (RFC 8032 section 5.1.7).
    ///
    /// Any failure, including a malformed key or signature, is a "no": a verifier must not distinguish ways of
    /// being wrong.
    public func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        guard signature.count == Ed25519PrivateKey.signatureByteCount,
            let key = try? PKey(type: .ed25519, publicKey: rawRepresentation),
            let context = try? DigestContext()
        else {
            OpenSSL.beginOperation()
            return false
        }
        let verified = context.withUnsafePointer { context in
            key.withUnsafePointer { key in
                guard EVP_DigestVerifyInit_ex(context, nil, nil, nil, nil, key, nil) == 1 else {
                    return false
                }
                return signature.withUnsafeBytes { signature in
                    message.withNonNullBytes { message, messageCount in
                        EVP_DigestVerify(
                            context,
                            signature.baseAddress!.assumingMemoryBound(to: UInt8.self),
                            signature.count,
                            message.assumingMemoryBound(to: UInt8.self),
                            messageCount
                        ) == 1
                    }
                }
            }
        }
        // A rejected signature leaves reasons in the queue that belong to no error anyone will see.
        OpenSSL.beginOperation()
        return verified
    }
}

/// An Ed25519 private key (RFC 8032) for signing.
///
/// The seed lives only in ``SecretBytes``; OpenSSL's key is made for each signature and freed after it. OpenSSL 3.0
/// keeps an imported raw private key in its ordinary heap (not its secure heap), where a core dump or a read of
/// /proc/PID/mem finds it; freed, it is wiped. So the long-lived copy is the locked, undumped one, and OpenSSL's
/// exists only while a signature is made (receipts are few: tens of microseconds each).
///
/// Thread safety: all stored properties are immutable, and each signature makes its own key and context; so
/// sharing a key between threads is safe.
public final class Ed25519PrivateKey: @unchecked Sendable {
    /// The length of an Ed25519 signature.
    public static let signatureByteCount = 64

    /// The matching public key, to give to verifiers.
    public let publicKey: Ed25519PublicKey

    /// The 32-byte seed ("secret key" in RFC 8032) from which the signing key is derived.
    public let rawRepresentation: SecretBytes

    /// Generates a new random key from OpenSSL's private generator.
    ///
    /// - Throws: `CryptoError` if the generator or OpenSSL fails.
    public convenience init() throws {
        try self.init(rawRepresentation: CryptoRandom.secretBytes(count: PKeyType.rawByteCount))
    }

    /// Uses a 32-byte seed; the same seed always gives the same key.
    ///
    /// - Throws: `CryptoError.invalidArgument` unless there are exactly 32 bytes, or `CryptoError` if OpenSSL
    ///   fails.
    public init(rawRepresentation: SecretBytes) throws {
        guard rawRepresentation.count == PKeyType.rawByteCount else {
            throw CryptoError.invalidArgument(
                "Ed25519 private key must be \(PKeyType.rawByteCount) bytes, got \(rawRepresentation.count)"
            )
        }
        publicKey = try Ed25519PublicKey(
            rawRepresentation: try PKey(type: .ed25519, privateKey: rawRepresentation).rawPublicKey())
        self.rawRepresentation = rawRepresentation
    }

    /// Signs `message` (pure Ed25519, no pre-hashing). Signatures are deterministic: the same key and message
    /// always give the same 64 bytes.
    ///
    /// - Throws: `CryptoError` if OpenSSL fails.
    public func signature(for message: [UInt8]) throws -> [UInt8] {
        OpenSSL.beginOperation()
        let key = try PKey(type: .ed25519, privateKey: rawRepresentation)
        let context = try DigestContext()
        return try context.withUnsafePointer { context in
            try key.withUnsafePointer { key in
                try OpenSSL.check(
                    EVP_DigestSignInit_ex(context, nil, nil, nil, nil, key, nil),
                    "EVP_DigestSignInit_ex(Ed25519)"
                )
            }
            var signature = [UInt8](repeating: 0, count: Self.signatureByteCount)
            var length = signature.count
            let result = message.withNonNullBytes { message, messageCount in
                EVP_DigestSign(context, &signature, &length, message.assumingMemoryBound(to: UInt8.self), messageCount)
            }
            try OpenSSL.check(result, "EVP_DigestSign(Ed25519)")
            guard length == Self.signatureByteCount else {
                throw CryptoError.library("EVP_DigestSign(Ed25519) returned \(length) bytes")
            }
            return signature
        }
    }
}
