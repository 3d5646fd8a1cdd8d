import Authorization
import CryptoPrimitives
import Foundation
import HashChain
import Logging
import MetricsTestKit
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import NIOPosix
import NIOTLS
import Receipts
import ReplicationProtocol
import StreamStore
import Testing

@testable import Receiver

/// The receiver's channel handler alone, on a testing channel whose clock the test moves: the edges that a real
/// socket cannot show on demand (a deadline passing, a read held while the budget is exhausted).
@Suite("The receiver's channel handler, on a testing channel")
struct ReceiverHandlerTests {
    @Test("a client that sends no hello is cut off at the hello timeout, on the event loop's clock, not before")
    func helloTimeout() async throws {
        let rig = try await HandlerRig(limits: .init(helloTimeout: .milliseconds(400)))
        await rig.channel.testingEventLoop.advanceTime(by: .milliseconds(300))
        #expect(try await rig.channel.readOutbound(as: Frame.self) == nil, "cut off before its deadline")
        #expect(rig.channel.isActive)
        await rig.channel.testingEventLoop.advanceTime(by: .milliseconds(300))
        let frame = try await rig.channel.readOutbound(as: Frame.self)
        #expect(frame?.errorCode == .timedOut, "\(frame as Any)")
        #expect(!rig.channel.isActive, "the connection stayed open past its deadline")
    }

    @Test("a read asked for while the shared budget is exhausted waits until storage gives the bytes back")
    func budgetHoldsReads() async throws {
        let storage = GatedStorage()
        // A pool of its own: the append waits on the test, and must not hold a thread other tests share.
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        do {
            try await Self.budgetHoldsReads(storage: storage, pool: pool)
        } catch {
            storage.release()
            try await pool.shutdownGracefully()
            throw error
        }
        storage.release()
        try await pool.shutdownGracefully()
    }

    private static func budgetHoldsReads(storage: GatedStorage, pool: NIOThreadPool) async throws {
        let rig = try await HandlerRig(budget: ReceiveBudget(limit: 1000), storage: storage, threadPool: pool)
        try await rig.identify()
        try await rig.channel.writeInbound(Frame.hello(Hello(intent: .append, stream: "ee.gate")))
        let ready = try await rig.nextOutbound()
        #expect(ready == .ready(length: 0, head: .empty))

        // 1500 bytes against a budget of 1000: reading stops while storage (held by the test) appends them.
        let bytes = [UInt8](repeating: 7, count: 1500)
        try await rig.channel.writeInbound(Frame.data(offset: 0, bytes: ByteBuffer(bytes: bytes)))
        await rig.channel.testingEventLoop.run()
        let before = rig.reads.value
        rig.channel.pipeline.read()
        await rig.channel.testingEventLoop.run()
        #expect(rig.reads.value == before, "a read went out while the budget was exhausted")

        storage.release()
        let acknowledgement = try await rig.nextOutbound()
        #expect(acknowledgement == .acknowledgement(durableLength: 1500, head: StreamHashChain.head(of: bytes)))
        try await rig.waitUntil { rig.reads.value == before + 1 }
        #expect(rig.reads.value == before + 1, "the held read did not go out once the budget had room")
    }
}

/// A ``ReceiverChannelHandler`` on a ``NIOAsyncTestingChannel``, behind a counter of the reads it lets through.
private struct HandlerRig {
    let channel = NIOAsyncTestingChannel()
    let reads = ReadCounter()

    init(
        limits: ReceiverStateMachine.Limits = .init(), budget: ReceiveBudget = ReceiveBudget(),
        storage: any StreamStorage = GatedStorage(open: true), threadPool: NIOThreadPool = .singleton
    ) async throws {
        let channel = self.channel
        let reads = self.reads
        let receiptKey = SoftwareReceiptSigningKey(try P256PrivateKey())
        let policy = try AuthorizationPolicy(parsing: "sender append *\nsender read *", file: "test")
        try await channel.testingEventLoop.executeInContext {
            let handler = ReceiverChannelHandler(
                storage: storage, threadPool: threadPool, limits: limits, policy: policy, receiptKey: receiptKey,
                applianceName: "test",
                metrics: ReplicationMetrics(factory: TestMetrics()), budget: budget, storageWork: StorageWork(),
                streamSlots: SharedStreamSlots(limits: .init()),
                frameLimit: NIOLoopBoundBox(ProtocolLimits.maximumControlBodyLength, eventLoop: channel.eventLoop),
                onHandshakeCompleted: {}, logger: Logger(label: "test-handler"),
                peerOf: { _ in CertifiedPeer(commonName: "sender") })
            try channel.pipeline.syncOperations.addHandlers([ReadCounterHandler(reads), handler])
        }
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 7443)).get()
    }

    /// The TLS handshake completed (the peer is the one the rig names).
    func identify() async throws {
        channel.pipeline.fireUserInboundEventTriggered(TLSUserEvent.handshakeCompleted(negotiatedProtocol: nil))
        await channel.testingEventLoop.run()
    }

    /// The next frame the handler writes. Storage runs on the thread pool, so this waits for it in real time, and
    /// moves the loop's clock 10 ms a turn, so that the flush after the sender's quiet period comes.
    func nextOutbound() async throws -> Frame? {
        for _ in 0..<500 {
            await channel.testingEventLoop.advanceTime(by: .milliseconds(10))
            if let frame = try await channel.readOutbound(as: Frame.self) { return frame }
            try await Task.sleep(for: .milliseconds(10))
        }
        return nil
    }

    func waitUntil(_ condition: @Sendable () -> Bool) async throws {
        for _ in 0..<500 where !condition() {
            await channel.testingEventLoop.run()
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}

/// How many reads reached the channel.
private final class ReadCounter: Sendable {
    private let count = NIOLockedValueBox(0)
    var value: Int { count.withLockedValue { $0 } }
    func increment() { count.withLockedValue { $0 += 1 } }
}

private final class ReadCounterHandler: ChannelOutboundHandler {
    typealias OutboundIn = Frame
    typealias OutboundOut = Frame

    private let reads: ReadCounter

    init(_ reads: ReadCounter) { self.reads = reads }

    func read(context: ChannelHandlerContext) {
        reads.increment()
        context.read()
    }
}

/// A stream store in memory whose appends wait until the test releases them, so that the budget stays exhausted
/// exactly as long as the test needs.
private final class GatedStorage: StreamStorage {
    private let gate: DispatchSemaphore
    private let released = NIOLockedValueBox(false)

    init(open: Bool = false) {
        gate = DispatchSemaphore(value: 0)
        if open { released.withLockedValue { $0 = true } }
    }

    func release() {
        released.withLockedValue { $0 = true }
        gate.signal()
    }

    func openAppender(for name: StreamName) throws(StreamStorageError) -> any StreamAppender {
        MemoryAppender(name: name) { [self] in
            if !released.withLockedValue({ $0 }) { gate.wait() }
        }
    }

    func openReader(for name: StreamName) throws(StreamStorageError) -> any StreamReader {
        throw .unknownStream(name)
    }

    /// No stream can be read back from this store, so none is listed.
    func summaries(
        after: StreamName?, limit: Int, where include: (StreamName) -> Bool
    ) throws(StreamStorageError) -> [StreamSummary] {
        []
    }
}

private final class MemoryAppender: StreamAppender {
    let name: StreamName
    private let beforeAppend: () -> Void
    private var bytes: [UInt8] = []
    private(set) var durableLength: UInt64 = 0
    private(set) var durableHead = ChainHead.empty

    init(name: StreamName, beforeAppend: @escaping () -> Void) {
        self.name = name
        self.beforeAppend = beforeAppend
    }

    var appendedLength: UInt64 { UInt64(bytes.count) }

    func append(_ bytes: UnsafeRawBufferPointer) throws(StreamStorageError) {
        beforeAppend()
        self.bytes += bytes
    }

    func makeDurable() throws(StreamStorageError) -> UInt64 {
        durableLength = appendedLength
        durableHead = StreamHashChain.head(of: bytes)
        return durableLength
    }

    func close() {}
}
