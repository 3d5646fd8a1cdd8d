import CryptoPrimitives
import TestSupport
import Testing

@testable import HPKE

/// The multi-message contexts: order, the sequence number limit and the exporter.
@Suite struct HPKEContextTests {
    static let info = Array("context test".utf8)

    /// Messages open in the order they were sealed; a message read out of turn fails and leaves the recipient
    /// where it was, so the right message still opens afterwards.
    @Test func messagesOpenInOrderOnly() throws {
        let recipient = try X25519PrivateKey()
        var sender = try HPKESenderContext(recipient: recipient.publicKey, info: Self.info)
        var receiver = try HPKERecipientContext(
            encapsulatedKey: sender.encapsulatedKey, recipient: recipient, info: Self.info)
        let messages = (0..<3).map { Array("message \($0)".utf8) }
        let ciphertexts = try messages.map { try sender.seal(aad: [], plaintext: $0) }
        #expect(sender.sequenceNumber == 3)

        #expect(throws: HPKEError.authenticationFailure()) {
            try receiver.open(aad: [], ciphertext: ciphertexts[1])
        }
        #expect(receiver.sequenceNumber == 0)
        for (message, ciphertext) in zip(messages, ciphertexts) {
            #expect(try receiver.open(aad: [], ciphertext: ciphertext).bytes == message)
        }
        #expect(receiver.sequenceNumber == 3)
    }

    /// Each message gets its own nonce: the same plaintext sealed twice in one context differs.
    @Test func samePlaintextTwiceGivesDifferentCiphertexts() throws {
        let recipient = try X25519PrivateKey()
        var sender = try HPKESenderContext(recipient: recipient.publicKey, info: Self.info)
        let first = try sender.seal(aad: [], plaintext: [7, 7, 7])
        let second = try sender.seal(aad: [], plaintext: [7, 7, 7])
        #expect(first != second)
    }

    /// The last sequence number a 64-bit counter allows is 2^64 - 2; after it, both sides refuse rather than
    /// reuse a nonce.
    @Test func sequenceNumberLimitIsEnforced() throws {
        let recipient = try X25519PrivateKey()
        var sender = try HPKESenderContext(recipient: recipient.publicKey, info: Self.info)
        var receiver = try HPKERecipientContext(
            encapsulatedKey: sender.encapsulatedKey, recipient: recipient, info: Self.info)
        sender.context.sequenceNumber = UInt64.max - 1
        receiver.context.sequenceNumber = UInt64.max - 1

        let last = try sender.seal(aad: [], plaintext: [1])
        #expect(try receiver.open(aad: [], ciphertext: last).bytes == [1])
        #expect(sender.sequenceNumber == UInt64.max)
        #expect(throws: HPKEError.messageLimitReached()) { try sender.seal(aad: [], plaintext: [2]) }
        #expect(throws: HPKEError.messageLimitReached()) { try receiver.open(aad: [], ciphertext: last) }
        #expect(sender.sequenceNumber == UInt64.max)
    }

    @Test func nonceOfTheLargestSequenceNumberFlipsTheLastEightBytes() {
        let base = [UInt8](repeating: 0xA5, count: 12)
        let nonce = EncryptionContext.nonce(base: base, sequenceNumber: UInt64.max - 1)
        #expect(nonce == [0xA5, 0xA5, 0xA5, 0xA5, 0x5A, 0x5A, 0x5A, 0x5A, 0x5A, 0x5A, 0x5A, 0x5B])
    }

    @Test func exportsAgreeAndDependOnTheirContext() throws {
        let recipient = try X25519PrivateKey()
        let sender = try HPKESenderContext(recipient: recipient.publicKey, info: Self.info)
        let receiver = try HPKERecipientContext(
            encapsulatedKey: sender.encapsulatedKey, recipient: recipient, info: Self.info)
        let first = try sender.export(exporterContext: Array("first".utf8), length: 32)
        let second = try sender.export(exporterContext: Array("second".utf8), length: 32)
        #expect(first.bytes != second.bytes)
        #expect(try receiver.export(exporterContext: Array("first".utf8), length: 32).bytes == first.bytes)
        // LabeledExpand encodes the length, so a shorter export is not a prefix of a longer one.
        let short = try sender.export(exporterContext: Array("first".utf8), length: 16)
        #expect(short.bytes != Array(first.bytes.prefix(16)))
    }

    @Test func exportLengthLimits() throws {
        let recipient = try X25519PrivateKey()
        let sender = try HPKESenderContext(recipient: recipient.publicKey, info: Self.info)
        #expect(try sender.export(exporterContext: [], length: 0).count == 0)
        let longest = try sender.export(exporterContext: [], length: HPKE.maximumExportByteCount)
        #expect(longest.count == 255 * 32)
        for length in [-1, HPKE.maximumExportByteCount + 1, Int(UInt16.max) + 1] {
            let error = try #require(throws: HPKEError.self, "length \(length)") {
                try sender.export(exporterContext: [], length: length)
            }
            #expect(error == HPKEError.invalidExportLength(length))
            #expect(error.message.contains("\(length)"))
        }
    }

    @Test func errorsCompareByKindAndDescribeThemselves() {
        #expect(HPKEError.authenticationFailure() == HPKEError.authenticationFailure(file: "elsewhere", line: 1))
        #expect(HPKEError.authenticationFailure() != HPKEError.invalidEncapsulatedKey())
        #expect(HPKEError.invalidEncapsulatedKey() != HPKEError.invalidRecipientKey())
        #expect(HPKEError.messageLimitReached() != HPKEError.invalidExportLength(0))
        let error = HPKEError.messageLimitReached()
        #expect(error.description.hasPrefix("HPKEError: "))
        #expect(error.description.contains("HPKEContextTests.swift"))
    }
}
