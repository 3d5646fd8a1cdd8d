import CryptoPrimitives
import Dispatch
import HashChain
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Receipts
import ReplicationProtocol
import TestSupport
import Testing

/// Receipts are signed off the event loop: a key in the TPM answers through the keys service in milliseconds, and
/// the connections that share the loop must go on meanwhile.
@Suite("Receipt signing")
struct ReceiptSigningTests {
    /// One event loop serves both connections, so a signature made on it would hold the other connection's append.
    /// The key does not sign until that append is acknowledged; had it been called on the loop, the append could
    /// not be until the key gave up after a minute (and the sender, retrying, got its receipt from a second
    /// signature: so the test counts them).
    @Test("a key that blocks does not stall another connection's appends on the same event loop")
    func blockingKeyDoesNotStallTheLoop() async throws {
        let loop = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let key = BlockingKey(SoftwareReceiptSigningKey(try P256PrivateKey()))
        defer { key.release() }
        do {
            try await ReceiverHarness.run(receiptKey: key, group: loop) { harness in
                let first = (0..<100_000).map { UInt8(truncatingIfNeeded: $0) }
                let sending = Task { try await harness.send(first, to: "ee.signed", receipt: true) }
                try await key.waitUntilSigning()

                let second = [UInt8](repeating: 5, count: 300_000)
                let other = try await harness.send(second, to: "ee.meanwhile")
                #expect(other.durableLength == UInt64(second.count))
                key.release()

                let receipt = try #require(try await sending.value.receipt)
                #expect(receipt.durableLength == UInt64(first.count))
                #expect(receipt.isSigned(by: key.software.publicKey))
                #expect(key.outcomes == [.signed], "the key waited for an append that the loop could not serve")
            }
        } catch {
            try await loop.shutdownGracefully()
            throw error
        }
        try await loop.shutdownGracefully()
    }

    @Test("a receipt whose connection closed while it was signed is dropped, and the receiver goes on")
    func connectionClosedWhileSigning() async throws {
        let key = BlockingKey(SoftwareReceiptSigningKey(try P256PrivateKey()))
        defer { key.release() }
        try await ReceiverHarness.run(receiptKey: key) { harness in
            let client = try await RawClient.connect(port: harness.port, tls: try harness.endpoint().tls)
            try await client.channel.executeThenClose { inbound, outbound in
                try await outbound.write(
                    ByteBuffer(bytes: Frame.bytes(.hello(Hello(intent: .append, stream: "ee.gone")))))
                var frames = FrameReader(inbound)
                #expect(try await frames.next() == .ready(length: 0, head: .empty))
                try await outbound.write(ByteBuffer(bytes: Frame.bytes(.receiptRequest)))
                try await key.waitUntilSigning()
            }
            // The client is gone; the signature ends after it, and its receipt has no one to go to.
            key.release()
            let after = try await harness.send([1, 2, 3], to: "ee.after", receipt: true)
            #expect(after.receipt?.isSigned(by: key.software.publicKey) == true)
            #expect(key.outcomes == [.signed, .signed])
        }
    }
}

/// A receipt-signing key that signs only once the test releases it.
private final class BlockingKey: ReceiptSigningKey {
    let software: SoftwareReceiptSigningKey
    private let released = DispatchSemaphore(value: 0)
    private let signing = NIOLockedValueBox(false)
    private let history = NIOLockedValueBox<[Outcome]>([])

    enum Outcome: Equatable {
        case signed
        case gaveUp
    }

    /// What became of each signature asked for.
    var outcomes: [Outcome] { history.withLockedValue { $0 } }

    init(_ software: SoftwareReceiptSigningKey) {
        self.software = software
    }

    var keyID: String { software.keyID }

    func sign(_ message: [UInt8]) throws -> [UInt8] {
        signing.withLockedValue { $0 = true }
        guard released.wait(timeout: .now() + 60) == .success else {
            history.withLockedValue { $0.append(.gaveUp) }
            throw TestSupportError("the test never released the key")
        }
        history.withLockedValue { $0.append(.signed) }
        // Whoever signs next (none in this test) need not wait.
        released.signal()
        return try software.sign(message)
    }

    /// Lets every signature, now and later, go ahead.
    func release() {
        released.signal()
    }

    /// Returns once a signature has begun (in real time: it runs on the receiver's signing thread).
    func waitUntilSigning() async throws {
        while !signing.withLockedValue({ $0 }) {
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}
