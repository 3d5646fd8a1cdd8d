import CryptoPrimitives

/// Hybrid Public Key Encryption (RFC 9180), base mode, with the single ciphersuite
/// DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM (KEM 0x0020, KDF 0x0001, AEAD 0x0002).
///
/// It seals a message to a public key: whoever holds only the public key can write, and only the holder of the
/// private key can read. Every seal makes a fresh ephemeral key, so sealing the same message twice gives
/// unrelated ciphertexts. Base mode does not authenticate the sender: anyone with the public key can seal, so
/// bind what the message is for through `info` and `additionalData`.
///
/// The single-shot functions here seal and open one message; `HPKESenderContext` and `HPKERecipientContext`
/// carry several messages and the secret exporter.
public enum HPKE {
    /// The length of an encapsulated key (Nenc): an X25519 public key.
    public static let encapsulatedKeyByteCount = DHKEM.encapsulatedKeyByteCount

    /// How many bytes a ciphertext is longer than its plaintext: the AES-GCM tag (Nt).
    public static let tagByteCount = AES256GCM.tagByteCount

    /// The longest secret `export` can derive: 255 blocks of HKDF-SHA256.
    public static let maximumExportByteCount = HKDFSHA256.maximumOutputByteCount

    /// Seals one message to `recipient` (SetupBaseS, then Seal with sequence number 0).
    ///
    /// - Parameters:
    ///   - recipient: the public key of the only reader.
    ///   - info: application context that the reader must repeat, such as a purpose and version string; it is
    ///     bound into the key, so the ciphertext cannot be opened for another purpose.
    ///   - additionalData: data that is authenticated but not encrypted, such as the identifier of what the
    ///     message belongs to; the reader must pass the same bytes.
    ///   - plaintext: the message.
    /// - Returns: the encapsulated key (32 bytes) and the ciphertext (the plaintext's length plus 16); store or
    ///   send both.
    /// - Throws: `HPKEError.invalidRecipientKey` for a public key of low order, or `HPKEError` if a primitive
    ///   fails.
    public static func seal(
        to recipient: X25519PublicKey,
        info: [UInt8],
        additionalData: [UInt8],
        plaintext: [UInt8]
    ) throws -> (encapsulatedKey: [UInt8], ciphertext: [UInt8]) {
        var context = try HPKESenderContext(recipient: recipient, info: info)
        let ciphertext = try context.seal(aad: additionalData, plaintext: plaintext)
        return (context.encapsulatedKey, ciphertext)
    }

    /// Seals one message from locked memory, such as a fresh data key, so the key is never copied into an
    /// ordinary array on its way.
    ///
    /// - Throws: as `seal(to:info:additionalData:plaintext:)` with an array.
    public static func seal(
        to recipient: X25519PublicKey,
        info: [UInt8],
        additionalData: [UInt8],
        plaintext: SecretBytes
    ) throws -> (encapsulatedKey: [UInt8], ciphertext: [UInt8]) {
        var context = try HPKESenderContext(recipient: recipient, info: info)
        let ciphertext = try context.seal(aad: additionalData, plaintext: plaintext)
        return (context.encapsulatedKey, ciphertext)
    }

    /// Opens what `seal` produced (SetupBaseR, then Open with sequence number 0).
    ///
    /// - Parameters:
    ///   - encapsulatedKey: the encapsulated key `seal` returned.
    ///   - ciphertext: the ciphertext `seal` returned.
    ///   - recipient: the private key whose public key the message was sealed to.
    ///   - info: the same application context the sender used.
    ///   - additionalData: the same additional data the sender used.
    /// - Returns: the plaintext, in locked memory that is wiped when released, and only if it authenticates.
    /// - Throws: `HPKEError.authenticationFailure()` if anything was altered or the key or `info` is wrong,
    ///   `HPKEError.invalidEncapsulatedKey` if the encapsulated key has the wrong length or is of low order, or
    ///   `HPKEError` if a primitive fails.
    public static func open(
        encapsulatedKey: [UInt8],
        ciphertext: [UInt8],
        recipient: X25519PrivateKey,
        info: [UInt8],
        additionalData: [UInt8]
    ) throws -> SecretBytes {
        var context = try HPKERecipientContext(encapsulatedKey: encapsulatedKey, recipient: recipient, info: info)
        return try context.open(aad: additionalData, ciphertext: ciphertext)
    }
}
