import CryptoPrimitives

/// DHKEM(X25519, HKDF-SHA256), the key encapsulation of RFC 9180 section 4.1.
///
/// The sender makes an ephemeral key pair, sends its public half (`enc`) and keeps the Diffie-Hellman result
/// with the recipient's key; the recipient recomputes it from `enc` with its private key. Both run the raw
/// X25519 output through HKDF bound to `enc` and the recipient's public key, so a shared secret is never
/// reused for another pair of keys.
enum DHKEM {
    /// Nsecret: the length of the KEM shared secret.
    static let sharedSecretByteCount = 32

    /// Nenc and Npk: an encapsulated key is a serialised X25519 public key.
    static let encapsulatedKeyByteCount = X25519PublicKey.byteCount

    /// Nsk: the length of a serialised X25519 private key.
    static let privateKeyByteCount = 32

    private static let kdf = LabeledKDF(suiteIdentifier: HPKESuite.kemSuiteIdentifier)

    /// DeriveKeyPair(ikm) of RFC 9180 section 7.1.3 for X25519: the HKDF output is the private key as it is,
    /// because X25519 clamps any 32 bytes into a valid scalar.
    ///
    /// - Parameter ikm: input keying material with at least 32 bytes of entropy.
    static func deriveKeyPair(ikm: SecretBytes) throws -> X25519PrivateKey {
        let prk = try kdf.extract(salt: [], label: "dkp_prk", ikm: ikm)
        let privateKey = try kdf.expand(prk: prk, label: "sk", info: [], length: privateKeyByteCount)
        return try X25519PrivateKey(rawRepresentation: privateKey)
    }

    /// Encap(pkR) with the ephemeral key pair given by the caller: random in use, fixed by the RFC's vectors.
    ///
    /// - Throws: `HPKEError.invalidRecipientKey` if `recipient` is of low order.
    static func encapsulate(
        to recipient: X25519PublicKey,
        ephemeralKey: X25519PrivateKey
    ) throws -> (sharedSecret: SecretBytes, encapsulatedKey: [UInt8]) {
        let dh: SecretBytes
        do {
            dh = try ephemeralKey.sharedSecret(with: recipient)
        } catch {
            throw HPKEError.invalidRecipientKey("gives no Diffie-Hellman secret (a point of low order?): \(error)")
        }
        let encapsulatedKey = ephemeralKey.publicKey.rawRepresentation
        let kemContext = encapsulatedKey + recipient.rawRepresentation
        return (try extractAndExpand(dh: dh, kemContext: kemContext), encapsulatedKey)
    }

    /// Decap(enc, skR).
    ///
    /// - Throws: `HPKEError.invalidEncapsulatedKey` if `encapsulatedKey` is not 32 bytes or is of low order.
    static func decapsulate(_ encapsulatedKey: [UInt8], recipient: X25519PrivateKey) throws -> SecretBytes {
        guard encapsulatedKey.count == encapsulatedKeyByteCount else {
            throw HPKEError.invalidEncapsulatedKey(
                "must be \(encapsulatedKeyByteCount) bytes, got \(encapsulatedKey.count)")
        }
        let ephemeralPublicKey = try X25519PublicKey(rawRepresentation: encapsulatedKey)
        let dh: SecretBytes
        do {
            dh = try recipient.sharedSecret(with: ephemeralPublicKey)
        } catch {
            throw HPKEError.invalidEncapsulatedKey("gives no Diffie-Hellman secret (a point of low order?): \(error)")
        }
        let kemContext = encapsulatedKey + recipient.publicKey.rawRepresentation
        return try extractAndExpand(dh: dh, kemContext: kemContext)
    }

    /// ExtractAndExpand(dh, kem_context).
    private static func extractAndExpand(dh: SecretBytes, kemContext: [UInt8]) throws -> SecretBytes {
        let prk = try kdf.extract(salt: [], label: "eae_prk", ikm: dh)
        return try kdf.expand(prk: prk, label: "shared_secret", info: kemContext, length: sharedSecretByteCount)
    }
}
