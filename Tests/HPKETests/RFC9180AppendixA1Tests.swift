import CryptoPrimitives
import TestSupport
import Testing

@testable import HPKE

/// RFC 9180 Appendix A.1.1, "DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM", Base Setup Information,
/// copied from the RFC's text.
///
/// The RFC prints no vectors for AES-256-GCM; this suite shares its KEM and KDF with ours, so everything but
/// the AES-128 ciphertexts applies: DeriveKeyPair, Encap and Decap, the key schedule (with AEAD id 1 and a
/// 16-byte key), the nonces and the exporter. Our own suite's vectors are in `CFRGVectorTests`.
@Suite struct RFC9180AppendixA1Tests {
    static let suite = HPKESuite(aeadIdentifier: 0x0001, keyByteCount: 16)
    static let info = [UInt8](hex: "4f6465206f6e2061204772656369616e2055726e")
    static let ikmE = "7268600d403fce431561aef583ee1613527cff655c1343f29812e66706df3234"
    static let pkEm = "37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431"
    static let skEm = "52c4a758a802cd8b936eceea314432798d5baf2d7e9235dc084ab1b9cfa2f736"
    static let ikmR = "6db9df30aa07dd42ee5e8181afdb977e538f5e1fec8a06223f33f7013e525037"
    static let pkRm = "3948cfe0ad1ddb695d780e59077195da6c56506b027329794ab02bca80815c4d"
    static let skRm = "4612c550263fc8ad58375df3f557aac531d26850903e55a9f23f21d8534e8ac8"
    static let enc = "37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431"
    static let sharedSecret = "fe0e18c9f024ce43799ae393c7e8fe8fce9d218875e8227b0187c04e7d2ea1fc"
    static let keyScheduleContext = """
        00725611c9d98c07c03f60095cd32d400d8347d45ed670\
        97bbad50fc56da742d07cb6cffde367bb0565ba28bb02c90744a20f5ef37f3052352\
        6106f637abb05449
        """
    static let secret = "12fff91991e93b48de37e7daddb52981084bd8aa64289c3788471d9a9712f397"
    static let key = "4531685d41d65f03dc48f6b8302c05b0"
    static let baseNonce = "56d890e5accaaf011cff4b7d"
    static let exporterSecret = "45ff1c2e220db587171952c0592d5f5ebe103f1561a2614e38f2ffd47e99e3f8"

    /// A.1.1.1: the nonce of each listed sequence number.
    static let nonces: [(sequenceNumber: UInt64, nonce: String)] = [
        (0, "56d890e5accaaf011cff4b7d"), (1, "56d890e5accaaf011cff4b7c"), (2, "56d890e5accaaf011cff4b7f"),
        (4, "56d890e5accaaf011cff4b79"), (255, "56d890e5accaaf011cff4b82"), (256, "56d890e5accaaf011cff4a7d"),
    ]

    /// A.1.1.2: exporter_context, L = 32, exported_value.
    static let exports: [(context: String, value: String)] = [
        ("", "3853fe2b4035195a573ffc53856e77058e15d9ea064de3e59f4961d0095250ee"),
        ("00", "2e8f0b54673c7029649d4eb9d5e33bf1872cf76d623ff164ac185da9e88c21a5"),
        ("54657374436f6e74657874", "e9e43065102c3836401bed8c3c3c75ae46be1639869391d62c61f1ec7af54931"),
    ]

    @Test func deriveKeyPairGivesThePrintedKeys() throws {
        let ephemeral = try DHKEM.deriveKeyPair(ikm: SecretBytes(hex: Self.ikmE))
        #expect(ephemeral.rawRepresentation.bytes == [UInt8](hex: Self.skEm))
        #expect(ephemeral.publicKey.rawRepresentation == [UInt8](hex: Self.pkEm))
        let recipient = try DHKEM.deriveKeyPair(ikm: SecretBytes(hex: Self.ikmR))
        #expect(recipient.rawRepresentation.bytes == [UInt8](hex: Self.skRm))
        #expect(recipient.publicKey.rawRepresentation == [UInt8](hex: Self.pkRm))
    }

    @Test func encapAndDecapGiveThePrintedSharedSecret() throws {
        let ephemeral = try X25519PrivateKey(rawRepresentation: SecretBytes(hex: Self.skEm))
        let recipient = try X25519PrivateKey(rawRepresentation: SecretBytes(hex: Self.skRm))
        let (sharedSecret, encapsulatedKey) = try DHKEM.encapsulate(
            to: recipient.publicKey, ephemeralKey: ephemeral)
        #expect(encapsulatedKey == [UInt8](hex: Self.enc))
        #expect(sharedSecret.bytes == [UInt8](hex: Self.sharedSecret))
        let decapsulated = try DHKEM.decapsulate([UInt8](hex: Self.enc), recipient: recipient)
        #expect(decapsulated.bytes == [UInt8](hex: Self.sharedSecret))
    }

    @Test func keyScheduleGivesThePrintedValues() throws {
        let schedule = try KeySchedule(
            sharedSecret: SecretBytes(hex: Self.sharedSecret), info: Self.info, suite: Self.suite)
        #expect(schedule.context == [UInt8](hex: Self.keyScheduleContext))
        #expect(schedule.secret.bytes == [UInt8](hex: Self.secret))
        #expect(schedule.key.bytes == [UInt8](hex: Self.key))
        #expect(schedule.baseNonce == [UInt8](hex: Self.baseNonce))
        #expect(schedule.exporterSecret.bytes == [UInt8](hex: Self.exporterSecret))
    }

    @Test func noncesAreTheBaseNonceXorTheSequenceNumber() {
        for (sequenceNumber, nonce) in Self.nonces {
            let computed = EncryptionContext.nonce(base: [UInt8](hex: Self.baseNonce), sequenceNumber: sequenceNumber)
            #expect(computed == [UInt8](hex: nonce), "sequence number \(sequenceNumber)")
        }
    }

    /// Both ends set up from the printed keys, through the same paths the public contexts use, export the
    /// printed values.
    @Test func bothContextsExportThePrintedValues() throws {
        let ephemeral = try X25519PrivateKey(rawRepresentation: SecretBytes(hex: Self.skEm))
        let recipient = try X25519PrivateKey(rawRepresentation: SecretBytes(hex: Self.skRm))
        let sender = try HPKESenderContext(
            recipient: recipient.publicKey, info: Self.info, ephemeralKey: ephemeral, suite: Self.suite)
        #expect(sender.encapsulatedKey == [UInt8](hex: Self.enc))
        let receiver = try HPKERecipientContext(
            encapsulatedKey: sender.encapsulatedKey, recipient: recipient, info: Self.info, suite: Self.suite)
        for (context, value) in Self.exports {
            let fromSender = try sender.export(exporterContext: [UInt8](hex: context), length: 32)
            let fromRecipient = try receiver.export(exporterContext: [UInt8](hex: context), length: 32)
            #expect(fromSender.bytes == [UInt8](hex: value), "exporter_context \(context)")
            #expect(fromRecipient.bytes == [UInt8](hex: value), "exporter_context \(context)")
        }
    }
}
