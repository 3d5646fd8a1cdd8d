import CryptoPrimitives

/// The sender's side of an HPKE base-mode context (RFC 9180 section 5.1.1, SetupBaseS): seals any number of
/// messages, in order, to one recipient public key, with DHKEM(X25519, HKDF-SHA256), HKDF-SHA256 and
/// AES-256-GCM.
///
/// Send `encapsulatedKey` along with the ciphertexts; the recipient needs it, in addition to the same `info`, to
/// set up the matching `HPKERecipientContext`. The context is not copyable: a copy would seal its next message
/// under a nonce the original also uses, which breaks AES-GCM.
public struct HPKESenderContext: ~Copyable, Sendable {
    /// enc: the ephemeral public key, 32 bytes, for the recipient.
    public let encapsulatedKey: [UInt8]

    var context: EncryptionContext

    /// Sets up a context to `recipient` with a fresh random ephemeral key.
    ///
    /// - Parameters:
    ///   - recipient: the recipient's public key.
    ///   - info: application context that both sides must agree on, such as a purpose and version string; it
    ///     is bound into every key, so a ciphertext cannot be opened for another purpose.
    /// - Throws: `HPKEError.invalidRecipientKey` for a key of low order, or `HPKEError` if a primitive fails.
    public init(recipient: X25519PublicKey, info: [UInt8]) throws {
        let ephemeralKey = try HPKEError.translating("ephemeral key generation") { try X25519PrivateKey() }
        try self.init(recipient: recipient, info: info, ephemeralKey: ephemeralKey)
    }

    /// Sets up a context with a given ephemeral key, which must never be used twice; only the RFC's test
    /// vectors, which fix the ephemeral key, have a reason to.
    init(
        recipient: X25519PublicKey,
        info: [UInt8],
        ephemeralKey: X25519PrivateKey,
        suite: HPKESuite = .x25519SHA256AES256GCM
    ) throws {
        let (encapsulatedKey, context) = try HPKEError.translating("sender setup") {
            let (sharedSecret, encapsulatedKey) = try DHKEM.encapsulate(to: recipient, ephemeralKey: ephemeralKey)
            let schedule = try KeySchedule(sharedSecret: sharedSecret, info: info, suite: suite)
            return (encapsulatedKey, EncryptionContext(schedule: schedule, suite: suite))
        }
        self.encapsulatedKey = encapsulatedKey
        self.context = context
    }

    /// The sequence number the next message will be sealed under; it starts at 0.
    public var sequenceNumber: UInt64 {
        context.sequenceNumber
    }

    /// Seals the next message and returns its ciphertext followed by the 16-byte tag.
    ///
    /// - Parameters:
    ///   - aad: data that is authenticated but not encrypted; the recipient must pass the same bytes.
    ///   - plaintext: the message.
    /// - Throws: `HPKEError.messageLimitReached()` after 2^64 - 1 messages, or `HPKEError` if a primitive fails.
    public mutating func seal(aad: [UInt8], plaintext: [UInt8]) throws -> [UInt8] {
        try plaintext.withUnsafeBytes { try context.seal(additionalData: aad, plaintext: $0) }
    }

    /// Seals the next message from locked memory, for a key that is being wrapped.
    ///
    /// - Throws: as `seal(aad:plaintext:)` with an array.
    public mutating func seal(aad: [UInt8], plaintext: SecretBytes) throws -> [UInt8] {
        try plaintext.withUnsafeBytes { try context.seal(additionalData: aad, plaintext: $0) }
    }

    /// Derives `length` bytes of secret bound to this context and to `exporterContext` (section 5.3); the
    /// recipient derives the same bytes.
    ///
    /// - Throws: `HPKEError.invalidExportLength` unless `length` is 0 to `HPKE.maximumExportByteCount`.
    public func export(exporterContext: [UInt8], length: Int) throws -> SecretBytes {
        try context.export(exporterContext: exporterContext, length: length)
    }
}

/// The recipient's side of an HPKE base-mode context (RFC 9180 section 5.1.1, SetupBaseR): opens the sender's
/// messages in the order they were sealed.
///
/// Not copyable, like `HPKESenderContext`, so that one sequence of messages is read by one context.
public struct HPKERecipientContext: ~Copyable, Sendable {
    var context: EncryptionContext

    /// Sets up the context for the messages sealed with `encapsulatedKey`.
    ///
    /// - Parameters:
    ///   - encapsulatedKey: the sender's `encapsulatedKey`, 32 bytes.
    ///   - recipient: the private key whose public key the sender sealed to.
    ///   - info: the same application context the sender used.
    /// - Throws: `HPKEError.invalidEncapsulatedKey` for a key of the wrong length or of low order, or
    ///   `HPKEError` if a primitive fails. A wrong `info` or private key is not detected here but by `open`.
    public init(
        encapsulatedKey: [UInt8],
        recipient: X25519PrivateKey,
        info: [UInt8]
    ) throws {
        try self.init(encapsulatedKey: encapsulatedKey, recipient: recipient, info: info, suite: .x25519SHA256AES256GCM)
    }

    init(encapsulatedKey: [UInt8], recipient: X25519PrivateKey, info: [UInt8], suite: HPKESuite) throws {
        context = try HPKEError.translating("recipient setup") {
            let sharedSecret = try DHKEM.decapsulate(encapsulatedKey, recipient: recipient)
            let schedule = try KeySchedule(sharedSecret: sharedSecret, info: info, suite: suite)
            return EncryptionContext(schedule: schedule, suite: suite)
        }
    }

    /// The sequence number the next message is expected under; it starts at 0.
    public var sequenceNumber: UInt64 {
        context.sequenceNumber
    }

    /// Verifies and decrypts the next message into locked memory.
    ///
    /// - Parameters:
    ///   - aad: the additional data the sender passed for this message.
    ///   - ciphertext: the ciphertext followed by its tag, as `HPKESenderContext.seal` returned it.
    /// - Returns: the plaintext, only if it authenticates; the sequence number then advances.
    /// - Throws: `HPKEError.authenticationFailure()` if the message, `aad`, `info`, the encapsulated key or the
    ///   private key is not what the sender used, or the message is out of order; the sequence number then
    ///   stays, so the next message can still be read.
    public mutating func open(aad: [UInt8], ciphertext: [UInt8]) throws -> SecretBytes {
        try context.open(additionalData: aad, ciphertext: ciphertext)
    }

    /// Derives the same secret as the sender's `export(exporterContext:length:)`.
    ///
    /// - Throws: `HPKEError.invalidExportLength` unless `length` is 0 to `HPKE.maximumExportByteCount`.
    public func export(exporterContext: [UInt8], length: Int) throws -> SecretBytes {
        try context.export(exporterContext: exporterContext, length: length)
    }
}
