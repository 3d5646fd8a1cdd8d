import Authorization
import HashChain
import NIOCore
import ReplicationProtocol
import StreamStore
import Testing

/// What keeps one sender from starving the others, told as events and the actions (or decisions) they must
/// produce, with injected time.
@Suite("Flood defences")
struct FloodDefenceTests {
    typealias Machines = ReceiverStateMachineTests

    static func appending(limits: ReceiverStateMachine.Limits = .init(flushEveryBytes: 1)) -> ReceiverStateMachine {
        Machines.appending(limits: limits)
    }

    static func acknowledgements(_ action: ReceiverAction) -> [UInt64] {
        action.frames.compactMap {
            if case .acknowledgement(let length, _) = $0 { return length }
            return nil
        }
    }

    @Test("a client that does not read is not read from, whatever it sends, and owes one acknowledgement")
    func unreadClientIsNotRead() {
        var machine = Self.appending()
        // The client stops reading: the appliance stops reading it too.
        #expect(machine.writabilityChanged(isWritable: false).reading == .pause)
        // Syncs that were already read in are answered by one acknowledgement once it reads again, not each.
        for _ in 0..<1000 {
            let action = machine.frameReceived(.sync)
            #expect(action.frames.isEmpty && action.reading == nil && !action.close)
        }
        // An append completing while it does not read is acknowledged later too, at its latest length.
        #expect(machine.frameReceived(.data(offset: 0, bytes: Machines.bytes(5))).storage != nil)
        let completed = machine.appendCompleted(durableLength: 5, head: .empty)
        #expect(completed.frames.isEmpty)
        // The client waits on itself: its idle deadline runs.
        #expect(machine.clientDeadline == ReceiverStateMachine.Limits().idleTimeout)
        let resumed = machine.writabilityChanged(isWritable: true)
        #expect(resumed.reading == .resume)
        #expect(Self.acknowledgements(resumed) == [5])
        // Nothing more is owed.
        #expect(machine.writabilityChanged(isWritable: false).frames.isEmpty)
        #expect(Self.acknowledgements(machine.writabilityChanged(isWritable: true)).isEmpty)
    }

    @Test("reading resumes only when the client reads again and the queue has gone to storage")
    func twoReasonsToPause() {
        var machine = Self.appending(limits: .init(pauseReadingAt: 4, flushEveryBytes: 1))
        _ = machine.frameReceived(.data(offset: 0, bytes: Machines.bytes(4)))  // to storage
        #expect(machine.frameReceived(.data(offset: 4, bytes: Machines.bytes(4))).reading == .pause)  // queue full
        #expect(machine.writabilityChanged(isWritable: false).reading == .pause)
        // Writable again, but the queue is still full: reading stays paused.
        #expect(machine.writabilityChanged(isWritable: true).reading == nil)
        #expect(machine.writabilityChanged(isWritable: false).reading == .pause)
        // The queue goes to storage, but the client still does not read: reading stays paused.
        let completed = machine.appendCompleted(durableLength: 4, head: .empty)
        #expect(completed.reading == nil && completed.frames.isEmpty && completed.storage != nil)
        let resumed = machine.writabilityChanged(isWritable: true)
        #expect(resumed.reading == .resume)
        #expect(Self.acknowledgements(resumed) == [4])
    }

    @Test("before the hello and while reading, an unread client is not read from either")
    func otherStates() {
        var hello = Machines.machine()
        #expect(hello.writabilityChanged(isWritable: false).reading == .pause)
        #expect(hello.writabilityChanged(isWritable: true).reading == .resume)
        var reader = Machines.machine()
        _ = reader.frameReceived(.hello(Hello(intent: .read, stream: "a")))
        _ = reader.streamOpened(length: 10, head: .empty)
        #expect(reader.writabilityChanged(isWritable: false).reading == .pause)
    }

    @Test("receipts: a burst, then one per interval; beyond it a rate-limited refusal closes the connection")
    func receiptRateLimit() {
        let limits = ReceiverStateMachine.Limits(flushEveryBytes: 1, receiptBurst: 3, receiptInterval: .seconds(1))
        var machine = Self.appending(limits: limits)
        for _ in 0..<3 {
            #expect(machine.frameReceived(.receiptRequest, at: .seconds(10)).receipt != nil)
        }
        // 1.5 s later, one token is back, not two.
        #expect(machine.frameReceived(.receiptRequest, at: .milliseconds(11_500)).receipt != nil)
        let refused = machine.frameReceived(.receiptRequest, at: .milliseconds(11_600))
        #expect(refused.receipt == nil)
        #expect(refused.frames.first?.errorCode == .rateLimited)
        #expect(refused.close)
    }

    /// Receipts are signed off the event loop, so their answers are events of their own, which may come after the
    /// connection ended.
    @Test("a signed receipt goes to the client unless the connection ended meanwhile; a failed one ends it")
    func receiptAnswers() {
        let receipt = Receipt(
            stream: "ee.a", durableLength: 0, head: .empty, millisecondsSince1970: 1, appliance: "dev", keyID: "k",
            signature: [UInt8](repeating: 1, count: 64))
        var machine = Self.appending(limits: .init())
        #expect(machine.frameReceived(.receiptRequest, at: .seconds(1)).receipt != nil)
        #expect(machine.receiptSigned(receipt) == ReceiverAction(frames: [.receipt(receipt)]))

        // Asked for, then the client hung up while the key signed: nothing to send, nothing else to do.
        #expect(machine.frameReceived(.receiptRequest, at: .seconds(1)).receipt != nil)
        _ = machine.connectionClosed()
        #expect(machine.receiptSigned(receipt) == .none)
        #expect(machine.receiptSigningFailed("the keys service is gone") == .none)

        // The key failed: the client is told, and the connection ends.
        var failing = Self.appending(limits: .init())
        #expect(failing.frameReceived(.receiptRequest, at: .seconds(1)).receipt != nil)
        let failed = failing.receiptSigningFailed("the keys service is gone")
        #expect(failed.frames.first?.errorCode == .storageFailure && failed.close)
        #expect(failing.receiptSigned(receipt) == .none, "a receipt after the connection was failed")
    }

    @Test("a token bucket refills one token per interval up to its capacity")
    func tokenBucket() {
        var bucket = TokenBucket(capacity: 2, interval: .seconds(1))
        var taken: [Bool] = []
        for now in [0, 0, 999, 1_000, 1_000, 100_000, 100_000, 100_000, 100_500, 101_000] {
            taken.append(bucket.take(at: .milliseconds(now)))
        }
        // Two at once, none before the interval, one per interval; a long pause refills to the capacity, no more;
        // partial intervals add up.
        #expect(taken == [true, true, false, true, false, true, true, false, false, true])
    }

    @Test("an open refused for want of a place is the appliance-busy refusal, and nothing is released")
    func openRefused() {
        var machine = Machines.machine()
        #expect(machine.frameReceived(.hello(Hello(intent: .append, stream: "ee.a"))).storage != nil)
        let refused = machine.openRefused(.identityFull("home", 8))
        #expect(refused.frames.first?.errorCode == .applianceBusy)
        #expect(refused.close)
        guard case .error(let error)? = refused.frames.first else { return }
        #expect(error.message.contains("'home'") && error.message.contains("8"))
        let closed = machine.connectionClosed()
        #expect(closed.storage == nil || closed.storage.isRelease)
    }

    @Test("frames as large as data frames are accepted only once the stream is open for append")
    func dataFramesOnlyWhenAppending() {
        var appender = Machines.machine()
        #expect(!appender.frameReceived(.hello(Hello(intent: .append, stream: "ee.a"))).acceptDataFrames)
        #expect(appender.streamOpened(length: 0, head: .empty).acceptDataFrames)
        var reader = Machines.machine()
        _ = reader.frameReceived(.hello(Hello(intent: .read, stream: "ee.a")))
        #expect(!reader.streamOpened(length: 0, head: .empty).acceptDataFrames)
    }

    @Test("stream places: capped in total and per identity, and given back")
    func streamSlots() {
        var slots = StreamSlots(limits: .init(total: 3, perIdentity: 2))
        let first = ["a", "a", "a", "b", "c"].map { slots.take(for: $0) }
        #expect(first == [nil, nil, .identityFull("a", 2), nil, .totalFull(3)])
        slots.give(for: "a")
        let again = slots.take(for: "c")
        #expect(again == nil)
        #expect(slots.taken == 3)
    }

    @Test("the handshake pool: a share per address, a pool in all, and idle handshakes pushed out by newcomers")
    func handshakePool() {
        var pool = HandshakePool<Int>(limits: .init(capacity: 3, perAddress: 2, evictableAfter: .seconds(2)))
        #expect(pool.accepted(1, from: "10.0.0.1", at: .zero) == .admit)
        #expect(pool.accepted(2, from: "10.0.0.1", at: .milliseconds(100)) == .admit)
        #expect(pool.accepted(3, from: "10.0.0.1", at: .milliseconds(100)) == .refuseAddressFull)
        #expect(pool.accepted(4, from: "10.0.0.2", at: .seconds(1)) == .admit)
        for id in [1, 2, 4] { pool.spoke(id) }
        // Full, and everyone has had less than 2 s: the newcomer is refused.
        #expect(pool.accepted(5, from: "10.0.0.3", at: .milliseconds(1_500)) == .refusePoolFull)
        // The oldest has had its 2 s: it makes room.
        #expect(pool.accepted(6, from: "10.0.0.3", at: .seconds(2)) == .admitEvicting(1))
        pool.spoke(6)
        #expect(pool.count == 3)
        // An evicted connection's address has its share back.
        #expect(pool.accepted(7, from: "10.0.0.1", at: .seconds(5)) == .admitEvicting(2))
        // A completed handshake leaves the pool; a closed one too.
        pool.handshakeCompleted(4)
        pool.closed(6)
        #expect(pool.count == 1)
        #expect(pool.accepted(8, from: "10.0.0.4", at: .seconds(5)) == .admit)
        // Closing what already left changes nothing.
        pool.closed(4)
        #expect(pool.count == 2)
    }

    /// Idle connections from more addresses than the pool holds, each address under its share: a client that
    /// speaks at once is still let in, and once it has spoken, newcomers push out the silent ones, not it.
    @Test("the handshake pool: silent connections make room at any age, a handshake that has begun does not")
    func silentConnectionsMakeRoom() {
        var pool = HandshakePool<Int>(limits: .init(capacity: 4, perAddress: 2, evictableAfter: .seconds(2)))
        for id in 0..<4 {
            #expect(pool.accepted(id, from: "10.0.0.\(id)", at: .milliseconds(Int64(id))) == .admit)
        }
        // Full of silent connections a few milliseconds old: the oldest silent one goes.
        #expect(pool.accepted(10, from: "10.1.0.1", at: .milliseconds(5)) == .admitEvicting(0))
        pool.spoke(10)
        #expect(pool.accepted(11, from: "10.0.0.9", at: .milliseconds(6)) == .admitEvicting(1))
        #expect(pool.accepted(12, from: "10.0.0.8", at: .milliseconds(7)) == .admitEvicting(2))
        #expect(pool.accepted(13, from: "10.0.0.7", at: .milliseconds(8)) == .admitEvicting(3))
        // The client that spoke is older than every silent one, yet they go first.
        #expect(pool.accepted(14, from: "10.0.0.6", at: .milliseconds(9)) == .admitEvicting(11))
        for id in [12, 13, 14] { pool.spoke(id) }
        // Everyone has spoken, and nobody has had 2 s: refused, until the oldest has.
        #expect(pool.accepted(15, from: "10.0.0.5", at: .seconds(1)) == .refusePoolFull)
        #expect(pool.accepted(16, from: "10.0.0.5", at: .milliseconds(2_005)) == .admitEvicting(10))
    }
}
