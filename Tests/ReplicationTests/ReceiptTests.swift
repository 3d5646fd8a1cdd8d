import CryptoPrimitives
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
    @Test("a receipt names the stream, its durable length and head, and its key, and verifies with the public key")
    func verifiedWithPublicKey() async throws {
        try await ReceiverHarness.run { harness in
            let bytes = (0..<1_500_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            let report = try await harness.send(bytes, to: "ee.receipt", receipt: true)
            let receipt = try #require(report.receipt)
            let publicKey = harness.softwareKey.publicKey
            #expect(receipt.stream == "ee.receipt")
            #expect(receipt.durableLength == UInt64(bytes.count))
            #expect(receipt.head == StreamHashChain.head(of: bytes))
            #expect(receipt.appliance == "test-appliance")
            #expect(receipt.keyID == ReceiptKeyID.of(publicKey))
            #expect(receipt.isSigned(by: publicKey))

            // Any change breaks the signature, the key it names among them; another key does not verify it.
            var longer = receipt
            longer.durableLength += 1
            #expect(!longer.isSigned(by: publicKey))
            var renamed = receipt
            renamed.stream = "ee.other"
            #expect(!renamed.isSigned(by: publicKey))
            let other = try P256PrivateKey().publicKey
            var relabelled = receipt
            relabelled.keyID = ReceiptKeyID.of(other)
            #expect(!relabelled.isSigned(by: other))
            #expect(!receipt.isSigned(by: other))
        }
    }

    @Test("a key id is p256: and 16 hexadecimal digits of the SHA-256 of the uncompressed point")
    func keyID() throws {
        // RFC 6979 A.2.5's key, whose point's SHA-256 is computed here independently of ReceiptKeyID.
        let point = [UInt8](
            hex: """
                04 60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6
                7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299
                """)
        let key = try P256PublicKey(uncompressedRepresentation: point)
        let id = ReceiptKeyID.of(key)
        #expect(id == "p256:" + Hex.encode(Array(SHA256.hash(point).prefix(8))))
        #expect(id.count == 5 + 16 && Receipt.isValidKeyID(id))
    }

    @Test("a receipt survives the wire byte for byte")
    func wire() throws {
        let receipt = Receipt(
            stream: "ee.a", durableLength: 9, head: .empty, millisecondsSince1970: 1_790_000_000_000,
            appliance: "x", keyID: "p256:0123456789abcdef", signature: [UInt8](repeating: 3, count: 64))
        #expect(Frame.bytes(.receipt(receipt)).count == 4 + 1 + 2 + 4 + 8 + 32 + 8 + 2 + 1 + 2 + 21 + 64)
        var buffer = ByteBuffer(bytes: Frame.bytes(.receipt(receipt)))
        #expect(try FrameParser().parse(&buffer) == .receipt(receipt))
    }

    @Test("a signature of the wrong form is never sent: the key's failure reaches the client as storage-failure")
    func signerReturningDER() async throws {
        let software = SoftwareReceiptSigningKey(try P256PrivateKey())
        let derKey = TestSigningKey(keyID: software.keyID) {
            try ECDSASignatureEncoding.der(fromRaw: software.sign($0))
        }
        try await ReceiverHarness.run(receiptKey: derKey) { harness in
            let client = try await RawClient.connect(port: harness.port, tls: try harness.endpoint().tls)
            let frames = try await client.exchange(
                Frame.bytes(.hello(Hello(intent: .append, stream: "ee.receipt"))),
                afterReady: Frame.bytes(.receiptRequest))
            guard case .error(let refusal)? = frames.last else {
                Issue.record("no refusal: \(frames)")
                return
            }
            #expect(refusal.code == .storageFailure)
            #expect(refusal.message.contains("cannot sign a receipt"), "\(refusal.message)")
            #expect(!frames.contains { if case .receipt = $0 { true } else { false } })
        }
    }
}

/// A receipt-signing key whose signing the test decides.
struct TestSigningKey: ReceiptSigningKey {
    let keyID: String
    let signing: @Sendable ([UInt8]) throws -> [UInt8]

    init(keyID: String, signing: @escaping @Sendable ([UInt8]) throws -> [UInt8]) {
        self.keyID = keyID
        self.signing = signing
    }

    func sign(_ message: [UInt8]) throws -> [UInt8] { try signing(message) }
}
