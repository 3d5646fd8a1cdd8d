import CryptoPrimitives
import HPKE
import TestSupport
import Testing

/// Single-shot seal and open with fresh random keys and messages, the way segment keys are wrapped.
@Suite struct HPKERoundTripTests {
    @Test(arguments: [0, 1, 16, 32, 1000, 100_000])
    func randomMessageRoundTrips(length: Int) throws {
        let recipient = try X25519PrivateKey()
        let info = try CryptoRandom.bytes(count: 24)
        let additionalData = try CryptoRandom.bytes(count: 40)
        let message = try CryptoRandom.bytes(count: length)

        let sealed = try HPKE.seal(
            to: recipient.publicKey, info: info, additionalData: additionalData, plaintext: message)
        #expect(sealed.encapsulatedKey.count == HPKE.encapsulatedKeyByteCount)
        #expect(sealed.ciphertext.count == length + HPKE.tagByteCount)

        let opened = try HPKE.open(
            encapsulatedKey: sealed.encapsulatedKey, ciphertext: sealed.ciphertext, recipient: recipient,
            info: info, additionalData: additionalData)
        #expect(opened.bytes == message)
    }

    /// The writer's case: a data key made in locked memory is wrapped without leaving it.
    @Test func secretDataKeyRoundTrips() throws {
        let storageKey = try X25519PrivateKey()
        let dataKey = try CryptoRandom.secretBytes(count: 32)
        let info = Array("saatkond segment data key v1".utf8)
        let segmentID = Array("segment 0007".utf8)

        let wrapped = try HPKE.seal(
            to: storageKey.publicKey, info: info, additionalData: segmentID, plaintext: dataKey)
        let unwrapped = try HPKE.open(
            encapsulatedKey: wrapped.encapsulatedKey, ciphertext: wrapped.ciphertext, recipient: storageKey,
            info: info, additionalData: segmentID)
        #expect(unwrapped.bytes == dataKey.bytes)
        #expect(unwrapped.count == 32)
    }

    /// A fresh ephemeral key per seal: the same message sealed twice shares nothing visible.
    @Test func sealingTwiceGivesUnrelatedOutputs() throws {
        let recipient = try X25519PrivateKey()
        let message = Array("same message".utf8)
        let first = try HPKE.seal(to: recipient.publicKey, info: [], additionalData: [], plaintext: message)
        let second = try HPKE.seal(to: recipient.publicKey, info: [], additionalData: [], plaintext: message)
        #expect(first.encapsulatedKey != second.encapsulatedKey)
        #expect(first.ciphertext != second.ciphertext)
    }

    /// Many writers wrap keys for one storage key at once; every result opens.
    @Test func concurrentSealsAllOpen() async throws {
        let recipient = try X25519PrivateKey()
        let publicKey = recipient.publicKey
        let results = try await withThrowingTaskGroup(
            of: (message: [UInt8], encapsulatedKey: [UInt8], ciphertext: [UInt8]).self
        ) { group in
            for index in 0..<32 {
                group.addTask {
                    let message = Array("message \(index)".utf8)
                    let sealed = try HPKE.seal(
                        to: publicKey, info: [UInt8(index)], additionalData: [], plaintext: message)
                    return (message, sealed.encapsulatedKey, sealed.ciphertext)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.count == 32)
        for result in results {
            let index = UInt8(String(decoding: result.message, as: UTF8.self).split(separator: " ")[1])!
            let opened = try HPKE.open(
                encapsulatedKey: result.encapsulatedKey, ciphertext: result.ciphertext, recipient: recipient,
                info: [index], additionalData: [])
            #expect(opened.bytes == result.message)
        }
    }
}
