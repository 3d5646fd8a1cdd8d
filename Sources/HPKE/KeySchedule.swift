import CryptoPrimitives

/// KeySchedule for mode_base (RFC 9180 section 5.1): turns the KEM shared secret and `info` into the AEAD key,
/// the base nonce and the exporter secret.
///
/// The intermediate values `context` and `secret` are kept because the RFC's test vectors print them, so each
/// step can be checked on its own.
struct KeySchedule {
    /// mode_base: no pre-shared key, no sender authentication.
    static let modeBase: UInt8 = 0x00

    /// key_schedule_context: mode, psk_id_hash and info_hash. Public: it depends on nothing secret.
    let context: [UInt8]

    /// The key schedule's pseudorandom key, from which everything else is expanded.
    let secret: SecretBytes

    /// The AEAD key, `suite.keyByteCount` bytes.
    let key: SecretBytes

    /// The nonce of sequence number 0; the others are it XOR the sequence number.
    let baseNonce: [UInt8]

    /// The secret behind `export`.
    let exporterSecret: SecretBytes

    /// Runs the key schedule. In base mode psk and psk_id are empty (the RFC's default_psk and default_psk_id).
    init(sharedSecret: SecretBytes, info: [UInt8], suite: HPKESuite) throws {
        let kdf = LabeledKDF(suiteIdentifier: suite.identifier)
        let pskIDHash = try kdf.extract(salt: [], label: "psk_id_hash", ikm: [UInt8]())
        let infoHash = try kdf.extract(salt: [], label: "info_hash", ikm: info)
        context = [Self.modeBase] + Self.publicBytes(pskIDHash) + Self.publicBytes(infoHash)
        secret = try Self.extractSecret(kdf: kdf, sharedSecret: sharedSecret)
        key = try kdf.expand(prk: secret, label: "key", info: context, length: suite.keyByteCount)
        let nonce = try kdf.expand(prk: secret, label: "base_nonce", info: context, length: HPKESuite.nonceByteCount)
        baseNonce = Self.publicBytes(nonce)
        exporterSecret = try kdf.expand(prk: secret, label: "exp", info: context, length: HPKESuite.hashByteCount)
    }

    /// secret = LabeledExtract(shared_secret, "secret", psk).
    ///
    /// The shared secret is HKDF's salt here, and `HKDFSHA256.extract` takes its salt as an ordinary array. The
    /// copy lives only for this call and is overwritten before it is released; the compiler may in principle
    /// drop that overwrite, which is why this is the only place a secret leaves locked memory.
    private static func extractSecret(kdf: LabeledKDF, sharedSecret: SecretBytes) throws -> SecretBytes {
        var salt = sharedSecret.withUnsafeBytes { Array($0) }
        defer {
            salt.withUnsafeMutableBytes { _ = $0.initializeMemory(as: UInt8.self, repeating: 0) }
        }
        return try kdf.extract(salt: salt, label: "secret", ikm: [UInt8]())
    }

    /// The bytes of a value that is derived from secrets but is not itself secret (a hash of public input, or
    /// a nonce, which GCM does not need to keep hidden).
    private static func publicBytes(_ value: SecretBytes) -> [UInt8] {
        value.withUnsafeBytes { Array($0) }
    }
}
