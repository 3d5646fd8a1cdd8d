/// AES-256 in Galois/Counter Mode (NIST SP 800-38D) with 96-bit nonces and full 128-bit tags.
///
/// A nonce must never be used twice with the same key: doing so reveals the XOR of the two plaintexts and lets
/// an attacker forge tags. Use a counter per key, or 12 random bytes for at most 2^32 messages per key.
///
/// `open` releases nothing unless the tag verifies; a tag mismatch throws `CryptoError.authenticationFailure()`.
/// The buffer-based variants in `AES256GCM+Buffers.swift` seal and open large segments without extra copies.
public enum AES256GCM {
    /// The key length in bytes.
    public static let keyByteCount = 32

    /// The nonce length in bytes; other lengths are rejected to keep GCM in its best-analysed form.
    public static let nonceByteCount = 12

    /// The tag length in bytes; truncated tags are rejected.
    public static let tagByteCount = 16

    /// Encrypts `plaintext` and authenticates it together with `additionalData`.
    ///
    /// - Parameters:
    ///   - key: 32 bytes.
    ///   - nonce: 12 bytes, never reused with this key.
    ///   - plaintext: the data to encrypt; may be empty (then only `additionalData` is authenticated).
    ///   - additionalData: data that is authenticated but not encrypted, such as a segment identifier that binds
    ///     the ciphertext to its place; may be empty.
    /// - Returns: the ciphertext, as long as the plaintext, and the 16-byte tag.
    /// - Throws: `CryptoError.invalidArgument` for a bad key or nonce length, or `CryptoError` if OpenSSL fails.
    public static func seal(
        key: SecretBytes,
        nonce: [UInt8],
        plaintext: [UInt8],
        additionalData: [UInt8]
    ) throws -> (ciphertext: [UInt8], tag: [UInt8]) {
        var tag: [UInt8] = []
        let ciphertext = try [UInt8](unsafeUninitializedCapacity: plaintext.count) { output, initializedCount in
            tag = try plaintext.withUnsafeBytes { input in
                try seal(
                    key: key,
                    nonce: nonce,
                    plaintext: input,
                    into: UnsafeMutableRawBufferPointer(output),
                    additionalData: additionalData
                )
            }
            initializedCount = plaintext.count
        }
        return (ciphertext, tag)
    }

    /// Verifies and decrypts what `seal` produced.
    ///
    /// - Returns: the plaintext, only if the tag verifies.
    /// - Throws: `CryptoError.authenticationFailure()` if the ciphertext, tag or additional data was altered or
    ///   the key or nonce is wrong; `CryptoError.invalidArgument` for a bad key, nonce or tag length; or
    ///   `CryptoError` if OpenSSL fails.
    public static func open(
        key: SecretBytes,
        nonce: [UInt8],
        ciphertext: [UInt8],
        tag: [UInt8],
        additionalData: [UInt8]
    ) throws -> [UInt8] {
        try [UInt8](unsafeUninitializedCapacity: ciphertext.count) { output, initializedCount in
            try ciphertext.withUnsafeBytes { input in
                try open(
                    key: key,
                    nonce: nonce,
                    ciphertext: input,
                    tag: tag,
                    into: UnsafeMutableRawBufferPointer(output),
                    additionalData: additionalData
                )
            }
            initializedCount = ciphertext.count
        }
    }

    /// Rejects sizes that would make OpenSSL fail later or silently use a weaker mode.
    static func validate(key: SecretBytes, nonce: [UInt8], tag: [UInt8]?) throws {
        guard key.count == keyByteCount else {
            throw CryptoError.invalidArgument("AES-256-GCM key must be \(keyByteCount) bytes, got \(key.count)")
        }
        guard nonce.count == nonceByteCount else {
            throw CryptoError.invalidArgument(
                "AES-256-GCM nonce must be \(nonceByteCount) bytes, got \(nonce.count)"
            )
        }
        if let tag, tag.count != tagByteCount {
            throw CryptoError.invalidArgument("AES-256-GCM tag must be \(tagByteCount) bytes, got \(tag.count)")
        }
    }
}
