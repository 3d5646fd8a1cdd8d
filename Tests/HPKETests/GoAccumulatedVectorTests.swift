import CryptoPrimitives
import TestSupport
import Testing

@testable import HPKE

/// Go's crypto/hpke known answers for our suite (src/crypto/hpke/testdata/rfc9180.json, the mode 0, kem 32,
/// kdf 1, aead 2 entry), which reach far past the CFRG vectors: 1000 messages and 1000 exports of every length
/// from 0 to 999 bytes.
///
/// Go's hpke_test.go makes the inputs from a SHAKE128 stream of the empty message: for each message it draws
/// one byte n and then n bytes of additional data, then one byte n and n bytes of plaintext; for each export
/// length L from 0 to 999 it draws a context the same way. It publishes the first 16 bytes of SHAKE128 over
/// all ciphertexts (and, separately, over all exported values). We repeat exactly that.
@Suite struct GoAccumulatedVectorTests {
    static let info = [UInt8](hex: "4f6465206f6e2061204772656369616e2055726e")
    static let ikmE = "2cd7c601cefb3d42a62b04b7a9041494c06c7843818e0ce28a8f704ae7ab20f9"
    static let ikmR = "dac33b0e9db1b59dbbea58d59a14e7b5896e9bdf98fad6891e99d1686492b9ee"
    static let skRm = "497b4502664cfea5d5af0b39934dac72242a74f8480451e1aee7d6a53320333d"
    static let pkRm = "430f4b9859665145a6b1ba274024487bd66f03a2dd577d7753c68d7d7d00c00c"
    static let enc = "6c93e09869df3402d7bf231bf540fadd35cd56be14f97178f0954db94b7fc256"
    static let encryptionsAccumulated = "1702e73e1e71705faa8241022af1deea"
    static let exportsAccumulated = "5cb678bf1c52afbd9afb58b8f7c1ced3"

    /// drawRandomInput of Go's test: a length byte, then that many bytes.
    static func draw(from source: inout SHAKE128) -> [UInt8] {
        let count = Int(source.squeeze(1)[0])
        return source.squeeze(count)
    }

    @Test func keysAndEncapsulatedKey() throws {
        let derived = try DHKEM.deriveKeyPair(ikm: SecretBytes(hex: Self.ikmR))
        #expect(derived.publicKey.rawRepresentation == [UInt8](hex: Self.pkRm))
        let recipient = try X25519PrivateKey(rawRepresentation: SecretBytes(hex: Self.skRm))
        #expect(recipient.publicKey.rawRepresentation == [UInt8](hex: Self.pkRm))
        let ephemeral = try DHKEM.deriveKeyPair(ikm: SecretBytes(hex: Self.ikmE))
        let sender = try HPKESenderContext(recipient: recipient.publicKey, info: Self.info, ephemeralKey: ephemeral)
        #expect(sender.encapsulatedKey == [UInt8](hex: Self.enc))
    }

    @Test func thousandMessagesMatchTheAccumulatedCiphertexts() throws {
        let recipient = try X25519PrivateKey(rawRepresentation: SecretBytes(hex: Self.skRm))
        let ephemeral = try DHKEM.deriveKeyPair(ikm: SecretBytes(hex: Self.ikmE))
        var sender = try HPKESenderContext(recipient: recipient.publicKey, info: Self.info, ephemeralKey: ephemeral)
        var receiver = try HPKERecipientContext(
            encapsulatedKey: sender.encapsulatedKey, recipient: recipient, info: Self.info)
        var source = SHAKE128()
        var sink = SHAKE128()
        for _ in 0..<1000 {
            let aad = Self.draw(from: &source)
            let plaintext = Self.draw(from: &source)
            let ciphertext = try sender.seal(aad: aad, plaintext: plaintext)
            sink.absorb(ciphertext)
            let opened = try receiver.open(aad: aad, ciphertext: ciphertext)
            #expect(opened.bytes == plaintext)
        }
        #expect(sink.squeeze(16) == [UInt8](hex: Self.encryptionsAccumulated))
    }

    @Test func thousandExportsMatchTheAccumulatedValues() throws {
        let recipient = try X25519PrivateKey(rawRepresentation: SecretBytes(hex: Self.skRm))
        let ephemeral = try DHKEM.deriveKeyPair(ikm: SecretBytes(hex: Self.ikmE))
        let sender = try HPKESenderContext(recipient: recipient.publicKey, info: Self.info, ephemeralKey: ephemeral)
        let receiver = try HPKERecipientContext(
            encapsulatedKey: sender.encapsulatedKey, recipient: recipient, info: Self.info)
        var source = SHAKE128()
        var sink = SHAKE128()
        for length in 0..<1000 {
            let exporterContext = Self.draw(from: &source)
            let value = try sender.export(exporterContext: exporterContext, length: length)
            #expect(value.count == length)
            sink.absorb(value.bytes)
            #expect(try receiver.export(exporterContext: exporterContext, length: length).bytes == value.bytes)
        }
        #expect(sink.squeeze(16) == [UInt8](hex: Self.exportsAccumulated))
    }
}
