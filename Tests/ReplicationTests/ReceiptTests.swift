import HashChain
import NIOCore
import Receipts
import Receiver
import ReplicationClients
import ReplicationProtocol
import ReplicationTransport
import Testing

@Suite("Receipts")
struct ReceiptTests {
    @Test("a receipt names the stream, its durable length and head, and verifies with the public key alone")
    func verifiedWithPublicKey() async throws {
        try await ReceiverHarness.run { harness in
            let bytes = (0..<1_500_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            let report = try await harness.send(bytes, to: "ee.receipt", receipt: true)
            let receipt = try #require(report.receipt)
            #expect(receipt.stream == "ee.receipt")
            #expect(receipt.durableLength == UInt64(bytes.count))
            #expect(receipt.head == StreamHashChain.head(of: bytes))
            #expect(receipt.appliance == "test-appliance")
            #expect(ReceiptSigner.verify(receipt, publicKey: harness.signer.publicKey))

            // Any change breaks the signature; another key does not verify it.
            var longer = receipt
            longer.durableLength += 1
            #expect(!ReceiptSigner.verify(longer, publicKey: harness.signer.publicKey))
            var renamed = receipt
            renamed.stream = "ee.other"
            #expect(!ReceiptSigner.verify(renamed, publicKey: harness.signer.publicKey))
            var wrongKey = harness.signer.publicKey
            wrongKey[0] ^= 1
            #expect(!ReceiptSigner.verify(receipt, publicKey: wrongKey))
        }
    }

    @Test("a receipt survives the wire byte for byte")
    func wire() throws {
        let receipt = Receipt(
            stream: "ee.a", durableLength: 9, head: .empty, millisecondsSince1970: 1_790_000_000_000,
            appliance: "x", signature: [UInt8](repeating: 3, count: 64))
        #expect(Frame.bytes(.receipt(receipt)).count == 4 + 1 + 2 + 4 + 8 + 32 + 8 + 2 + 1 + 64)
        var buffer = ByteBuffer(bytes: Frame.bytes(.receipt(receipt)))
        #expect(try FrameParser().parse(&buffer) == .receipt(receipt))
    }
}
