import CryptoPrimitives
import TestSupport
import Testing

@testable import HPKE

/// Our exact suite, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM, mode_base.
///
/// RFC 9180's appendix leaves this suite out; its vectors are in the CFRG's test-vectors.json, which the RFC
/// cites as [TestVectors] (cfrg/draft-irtf-cfrg-hpke at 5f503c5). Provenance of each value:
/// - ikmE, ikmR, skRm, pkRm, enc: Go's src/crypto/hpke/testdata/rfc9180.json (the JSON's mode 0, kem 32, kdf 1,
///   aead 2 entry) and several independent projects that quote the CFRG entry;
/// - skEm, shared_secret, key_schedule_context, secret, key, base_nonce, exporter_secret, the ciphertexts of
///   sequence numbers 0 and 1 and the three exports: the CFRG entry as quoted by those projects, each value
///   found identical in at least two of them;
/// - the ciphertexts of sequence numbers 2, 4, 255 and 256, which no source quoted: generated once with
///   pyhpke 0.6.5 (an independent Python implementation), which first reproduced every CFRG value above.
@Suite struct CFRGVectorTests {
    static let info = [UInt8](hex: "4f6465206f6e2061204772656369616e2055726e")
    static let ikmE = "2cd7c601cefb3d42a62b04b7a9041494c06c7843818e0ce28a8f704ae7ab20f9"
    static let pkEm = "6c93e09869df3402d7bf231bf540fadd35cd56be14f97178f0954db94b7fc256"
    static let skEm = "179d4b53b6365c45b600c4163b61d95cbc2f4d9e36f1695558dce265ab8bab11"
    static let ikmR = "dac33b0e9db1b59dbbea58d59a14e7b5896e9bdf98fad6891e99d1686492b9ee"
    static let pkRm = "430f4b9859665145a6b1ba274024487bd66f03a2dd577d7753c68d7d7d00c00c"
    static let skRm = "497b4502664cfea5d5af0b39934dac72242a74f8480451e1aee7d6a53320333d"
    static let enc = "6c93e09869df3402d7bf231bf540fadd35cd56be14f97178f0954db94b7fc256"
    static let sharedSecret = "3101c54c3a4f87439eaac080699ed9bbcc726ffe44e860c0424ccb7e3e2ead7b"
    static let keyScheduleContext = """
        004ce5472ecdd5093ba0aecb8f871ff13f1fbc90ee76f0e18ace1a1b7e565bafa3\
        06f6ef962c9ee7cea40407b5d60f0f26990472faae3ac44c78366f1cac1ecde1
        """
    static let secret = "2058ac9b02c1f52c1aaf08bedbec9198219751a94ef67b7d5f0c8b6e2b54ebfb"
    static let key = "f50b0609186798729ed0564b36ef2ef8044f1f9d05636874d1f46c819c7a669f"
    static let baseNonce = "151d9929e2449747889bc923"
    static let exporterSecret = "86017151bbff6a1940e8abae2ac9e0e7032e33df1eaaecc02ca6259b130d62df"

    /// "Beauty is truth, truth beauty", the plaintext of every encryption vector.
    static let plaintext = [UInt8](hex: "4265617574792069732074727574682c20747275746820626561757479")

    /// Sequence number, nonce and ciphertext; the additional data is "Count-<sequence number>".
    static let encryptions: [(sequenceNumber: UInt64, nonce: String, ciphertext: String)] = [
        (
            0, "151d9929e2449747889bc923",
            "e5d84cd531cfb583096e7cfa9641bd3079cf3a91cda813c52deb5f512be9931980a41de125a925cdad859d5b7a"
        ),
        (
            1, "151d9929e2449747889bc922",
            "2c43aff25343fdbff864506f0818b9d87df84ea01b1a2144d23b4d40c26bf655fdf197fe40297a8aebeed5cc2d"
        ),
        (
            2, "151d9929e2449747889bc921",
            "e0a8f2cf92ff61215edbb8c55dc31fe9e2eb42a5685867bb6854211542099f9e940c4b41c192bc390835b1a5f7"
        ),
        (
            4, "151d9929e2449747889bc927",
            "448a8892f261cbb6bf5b7b64a4fae8a2c86492494b069c10525895d871c27c2f12cd17e0588fedaba9f7b0cd4c"
        ),
        (
            255, "151d9929e2449747889bc9dc",
            "f6ad1823eb0b932d04b6e23010eea64f1fe5edd0583dae5ba27ca6363f4ea104bd217331460ef4208040423641"
        ),
        (
            256, "151d9929e2449747889bc823",
            "53624f4f9f173453b14e633b45390ff54cacaa4428d44baee1bff8133fab1ab3afe60f88e4634b525c54e92eda"
        ),
    ]

    /// exporter_context, L = 32, exported_value.
    static let exports: [(context: String, value: String)] = [
        ("", "ded6cffafaea6b812cbf3e241e88332adbc077aca81512914213810ee291770a"),
        ("00", "04d3cb6cc116b28ffd22ad5bc276c60d31fec71ceb87ae24db811c64b7507339"),
        ("54657374436f6e74657874", "7c5ded445732c14fe09727d29b4251c0fd38455fe8440571e687f0886aac94d2"),
    ]

    static func additionalData(_ sequenceNumber: UInt64) -> [UInt8] {
        Array("Count-\(sequenceNumber)".utf8)
    }

    @Test func deriveKeyPairGivesTheVectorKeys() throws {
        let ephemeral = try DHKEM.deriveKeyPair(ikm: SecretBytes(hex: Self.ikmE))
        #expect(ephemeral.rawRepresentation.bytes == [UInt8](hex: Self.skEm))
        #expect(ephemeral.publicKey.rawRepresentation == [UInt8](hex: Self.pkEm))
        let recipient = try DHKEM.deriveKeyPair(ikm: SecretBytes(hex: Self.ikmR))
        #expect(recipient.rawRepresentation.bytes == [UInt8](hex: Self.skRm))
        #expect(recipient.publicKey.rawRepresentation == [UInt8](hex: Self.pkRm))
    }

    @Test func setupGivesTheVectorSecrets() throws {
        let ephemeral = try DHKEM.deriveKeyPair(ikm: SecretBytes(hex: Self.ikmE))
        let recipient = try DHKEM.deriveKeyPair(ikm: SecretBytes(hex: Self.ikmR))
        let (sharedSecret, encapsulatedKey) = try DHKEM.encapsulate(
            to: recipient.publicKey, ephemeralKey: ephemeral)
        #expect(encapsulatedKey == [UInt8](hex: Self.enc))
        #expect(sharedSecret.bytes == [UInt8](hex: Self.sharedSecret))
        #expect(try DHKEM.decapsulate(encapsulatedKey, recipient: recipient).bytes == sharedSecret.bytes)

        let schedule = try KeySchedule(sharedSecret: sharedSecret, info: Self.info, suite: .x25519SHA256AES256GCM)
        #expect(schedule.context == [UInt8](hex: Self.keyScheduleContext))
        #expect(schedule.secret.bytes == [UInt8](hex: Self.secret))
        #expect(schedule.key.bytes == [UInt8](hex: Self.key))
        #expect(schedule.baseNonce == [UInt8](hex: Self.baseNonce))
        #expect(schedule.exporterSecret.bytes == [UInt8](hex: Self.exporterSecret))
    }

    /// The sender seals sequence numbers 0 to 256 in order, as the vectors were made, and the recipient opens
    /// every message; the listed ones must match byte for byte.
    @Test func encryptionsMatchTheVectors() throws {
        let ephemeral = try DHKEM.deriveKeyPair(ikm: SecretBytes(hex: Self.ikmE))
        let recipient = try X25519PrivateKey(rawRepresentation: SecretBytes(hex: Self.skRm))
        var sender = try HPKESenderContext(recipient: recipient.publicKey, info: Self.info, ephemeralKey: ephemeral)
        #expect(sender.encapsulatedKey == [UInt8](hex: Self.enc))
        var receiver = try HPKERecipientContext(
            encapsulatedKey: sender.encapsulatedKey, recipient: recipient, info: Self.info)
        let expected = Dictionary(uniqueKeysWithValues: Self.encryptions.map { ($0.sequenceNumber, $0) })

        for sequenceNumber in UInt64(0)...256 {
            #expect(sender.sequenceNumber == sequenceNumber)
            let aad = Self.additionalData(sequenceNumber)
            let ciphertext = try sender.seal(aad: aad, plaintext: Self.plaintext)
            if let vector = expected[sequenceNumber] {
                #expect(ciphertext == [UInt8](hex: vector.ciphertext), "sequence number \(sequenceNumber)")
                let nonce = EncryptionContext.nonce(base: [UInt8](hex: Self.baseNonce), sequenceNumber: sequenceNumber)
                #expect(nonce == [UInt8](hex: vector.nonce), "sequence number \(sequenceNumber)")
            }
            #expect(try receiver.open(aad: aad, ciphertext: ciphertext).bytes == Self.plaintext)
        }
        #expect(receiver.sequenceNumber == 257)
    }

    @Test func exportsMatchTheVectors() throws {
        let ephemeral = try DHKEM.deriveKeyPair(ikm: SecretBytes(hex: Self.ikmE))
        let recipient = try X25519PrivateKey(rawRepresentation: SecretBytes(hex: Self.skRm))
        let sender = try HPKESenderContext(recipient: recipient.publicKey, info: Self.info, ephemeralKey: ephemeral)
        let receiver = try HPKERecipientContext(
            encapsulatedKey: [UInt8](hex: Self.enc), recipient: recipient, info: Self.info)
        for (context, value) in Self.exports {
            let exporterContext = [UInt8](hex: context)
            #expect(try sender.export(exporterContext: exporterContext, length: 32).bytes == [UInt8](hex: value))
            #expect(try receiver.export(exporterContext: exporterContext, length: 32).bytes == [UInt8](hex: value))
        }
    }

    /// The public single-shot open reads the vector's first message, which is exactly a single-shot seal.
    @Test func singleShotOpenReadsTheFirstVectorMessage() throws {
        let recipient = try X25519PrivateKey(rawRepresentation: SecretBytes(hex: Self.skRm))
        let plaintext = try HPKE.open(
            encapsulatedKey: [UInt8](hex: Self.enc),
            ciphertext: [UInt8](hex: Self.encryptions[0].ciphertext),
            recipient: recipient,
            info: Self.info,
            additionalData: Self.additionalData(0)
        )
        #expect(plaintext.bytes == Self.plaintext)
    }
}
