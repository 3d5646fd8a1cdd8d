import CryptoPrimitives
import HPKE
import TestSupport
import Testing

/// A message sealed by another implementation, the way the appliance will use HPKE: a fresh 32-byte data key
/// wrapped to a storage public key.
///
/// Generated once with pyca/cryptography 48.0.0 (`hpke.Suite(KEM.X25519, KDF.HKDF_SHA256,
/// AEAD.AES_256_GCM).encrypt(plaintext, public_key, info)`, which uses empty additional data and returns enc
/// followed by the ciphertext), from a random key pair and a random ephemeral key.
@Suite struct InteroperabilityTests {
    static let skR = "004eb9d6aaf80a40b4620794449ef41b0ccd9b5b8370e682ea0001e0b750c076"
    static let pkR = "6ad07494f35256ea7d470f890e864d2bf3ae523da3d7a5d28a2ade4f6b3c653a"
    static let info = Array("saatkond segment data key v1".utf8)
    static let plaintext = "ae4a6588c61de251bcb4dab2dce9150bf16c310bc7da34006f91755cc627170e"
    static let enc = "c073285c4ed14d2ed5fda23986ae529fdc5a507239622e3d791c5ccc58d3b454"
    static let ciphertext = """
        25965640e397ad6362ab53ffb5773ee3f118cb2ef62c6378aed0550da2cabc0a\
        91a1a43bf351c7b2610bda82369dad89
        """

    @Test func opensWhatPycaCryptographySealed() throws {
        let recipient = try X25519PrivateKey(rawRepresentation: SecretBytes(hex: Self.skR))
        #expect(recipient.publicKey.rawRepresentation == [UInt8](hex: Self.pkR))
        let plaintext = try HPKE.open(
            encapsulatedKey: [UInt8](hex: Self.enc),
            ciphertext: [UInt8](hex: Self.ciphertext),
            recipient: recipient,
            info: Self.info,
            additionalData: []
        )
        #expect(plaintext.bytes == [UInt8](hex: Self.plaintext))
    }

    @Test func refusesItUnderAnotherInfo() throws {
        let recipient = try X25519PrivateKey(rawRepresentation: SecretBytes(hex: Self.skR))
        #expect(throws: HPKEError.authenticationFailure()) {
            try HPKE.open(
                encapsulatedKey: [UInt8](hex: Self.enc),
                ciphertext: [UInt8](hex: Self.ciphertext),
                recipient: recipient,
                info: Array("saatkond segment data key v2".utf8),
                additionalData: []
            )
        }
    }
}
