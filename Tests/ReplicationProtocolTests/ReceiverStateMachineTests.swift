import Authorization
import HashChain
import NIOCore
import ReplicationProtocol
import StreamStore
import Testing

/// The receiver's story told as events and the actions they must produce; no channel, no socket, no sleep.
@Suite("Receiver state machine")
struct ReceiverStateMachineTests {
    static let stream = try! StreamName("ee.population.wal")

    /// The sender "home" may append to and read every stream; "reader" may only read "ee.".
    static let policy = try! AuthorizationPolicy(
        parsing: "home append *\nhome read *\nreader read ee.", file: "test")

    /// A machine whose peer presented `identity`.
    static func machine(
        limits: ReceiverStateMachine.Limits = .init(flushEveryBytes: 1), identity: String? = "home"
    ) -> ReceiverStateMachine {
        var machine = ReceiverStateMachine(limits: limits, policy: policy)
        machine.peerIdentified(identity)
        return machine
    }

    static func bytes(_ count: Int, _ value: UInt8 = 7) -> ByteBuffer {
        ByteBuffer(repeating: value, count: count)
    }

    /// A machine that has opened `stream` for appending at `length`.
    static func appending(
        at length: UInt64 = 0, limits: ReceiverStateMachine.Limits = .init(flushEveryBytes: 1)
    ) -> ReceiverStateMachine {
        var machine = Self.machine(limits: limits)
        _ = machine.frameReceived(.hello(Hello(intent: .append, stream: stream.rawValue)))
        _ = machine.streamOpened(length: length, head: .empty)
        return machine
    }

    @Test("hello opens the stream and the answer is its durable length")
    func helloThenReady() {
        var machine = Self.machine()
        let opening = machine.frameReceived(.hello(Hello(intent: .append, stream: "ee.population.wal")))
        guard case .open(let name, .append)? = opening.storage else {
            Issue.record("expected an open, got \(String(describing: opening.storage))")
            return
        }
        #expect(name == Self.stream)
        #expect(opening.frames.isEmpty)
        #expect(machine.streamOpened(length: 42, head: .empty).frames == [.ready(length: 42, head: .empty)])
    }

    @Test("an invalid stream name is refused with its rule and the connection closes")
    func invalidName() {
        var machine = Self.machine()
        let action = machine.frameReceived(.hello(Hello(intent: .append, stream: "../etc/passwd")))
        #expect(action.close)
        guard case .error(let error)? = action.frames.first else {
            Issue.record("expected an error frame")
            return
        }
        #expect(error.code == .invalidStreamName)
        #expect(error.message.contains("a-z, 0-9"))
        #expect(action.storage == nil || action.storage.isRelease)
    }

    @Test("an identity may do only what the policy grants it, on the streams it names")
    func authorization() {
        var reader = Self.machine(identity: "reader")
        let append = reader.frameReceived(.hello(Hello(intent: .append, stream: "ee.population.wal")))
        #expect(append.frames.first?.errorCode == .notAuthorized)
        #expect(append.frames.first?.errorMessage?.contains("'reader' may not append") == true)
        #expect(append.close)

        var readsOwn = Self.machine(identity: "reader")
        guard case .open? = readsOwn.frameReceived(.hello(Hello(intent: .read, stream: "ee.population.wal"))).storage
        else {
            Issue.record("a granted read was not opened")
            return
        }
        var readsOther = Self.machine(identity: "reader")
        #expect(
            readsOther.frameReceived(.hello(Hello(intent: .read, stream: "lv.x"))).frames.first?.errorCode
                == .notAuthorized)
        var anonymous = Self.machine(identity: nil)
        #expect(
            anonymous.frameReceived(.hello(Hello(intent: .read, stream: "ee.x"))).frames.first?.errorCode
                == .notAuthorized)
    }

    @Test("a port that serves no appends refuses one whatever the policy grants, and still serves reads")
    func readOnlyPort() {
        var machine = Self.machine(limits: .init(servesAppends: false))
        let append = machine.frameReceived(.hello(Hello(intent: .append, stream: "ee.population.wal")))
        #expect(append.storage == nil || append.storage.isRelease)
        #expect(append.frames.first?.errorCode == .notAuthorized)
        #expect(append.frames.first?.errorMessage?.contains("restores and listings only") == true)
        #expect(append.close)
        var reads = Self.machine(limits: .init(servesAppends: false))
        guard case .open(_, .read)? = reads.frameReceived(.hello(Hello(intent: .read, stream: "ee.x"))).storage else {
            Issue.record("a read on the reading port was not opened")
            return
        }
    }

    @Test("another protocol version is refused")
    func wrongVersion() {
        var machine = Self.machine()
        let action = machine.frameReceived(.hello(Hello(version: 2, intent: .append, stream: "a")))
        #expect(action.frames.first?.errorCode == .unsupportedVersion)
        #expect(action.close)
    }

    @Test("data before the hello is unexpected")
    func dataBeforeHello() {
        var machine = Self.machine()
        let action = machine.frameReceived(.data(offset: 0, bytes: Self.bytes(1)))
        #expect(action.frames.first?.errorCode == .unexpectedFrame)
        #expect(action.close)
    }

    @Test("the first data goes to storage at once; later data waits and goes in one batch")
    func groupCommit() {
        var machine = Self.appending(at: 100)
        // Idle: the first frame starts an append-and-flush by itself.
        let first = machine.frameReceived(.data(offset: 100, bytes: Self.bytes(10)))
        #expect(first.storage.appendedBytes == [10])
        // While it is in flight, two more frames queue up.
        #expect(machine.frameReceived(.data(offset: 110, bytes: Self.bytes(5))).storage == nil)
        #expect(machine.frameReceived(.data(offset: 115, bytes: Self.bytes(6))).storage == nil)
        // The flush ends: acknowledge it, and take both queued frames in one operation.
        let completed = machine.appendCompleted(durableLength: 110, head: .empty)
        #expect(completed.frames == [.acknowledgement(durableLength: 110, head: .empty)])
        #expect(completed.storage.appendedBytes == [5, 6])
        let last = machine.appendCompleted(durableLength: 121, head: .empty)
        #expect(last.frames == [.acknowledgement(durableLength: 121, head: .empty)])
        #expect(last.storage == nil)
    }

    @Test("the store's head travels in ready and in every acknowledgement")
    func headsPassThrough() {
        let opened = ChainHead([UInt8](repeating: 1, count: 32))!
        let later = ChainHead([UInt8](repeating: 2, count: 32))!
        var machine = Self.machine()
        _ = machine.frameReceived(.hello(Hello(intent: .append, stream: "a")))
        #expect(machine.streamOpened(length: 5, head: opened).frames == [.ready(length: 5, head: opened)])
        #expect(machine.frameReceived(.sync).frames.isEmpty)
        #expect(machine.inboundBatchEnded().frames == [.acknowledgement(durableLength: 5, head: opened)])
        _ = machine.frameReceived(.data(offset: 5, bytes: Self.bytes(1)))
        #expect(
            machine.appendCompleted(durableLength: 6, head: later).frames == [
                .acknowledgement(durableLength: 6, head: later)
            ])
        _ = machine.frameReceived(.sync)
        #expect(machine.inboundBatchEnded().frames == [.acknowledgement(durableLength: 6, head: later)])
    }

    @Test("a continuous stream is flushed every flushEveryBytes, and completely once the sender is quiet")
    func lazyFlush() {
        var machine = Self.appending(limits: .init(flushEveryBytes: 100))
        // The first frame goes to storage at once, appended but not flushed: more may follow.
        #expect(machine.frameReceived(.data(offset: 0, bytes: Self.bytes(40))).storage.flushes == false)
        _ = machine.frameReceived(.data(offset: 40, bytes: Self.bytes(40)))
        // 80 bytes are now unflushed: no acknowledgement yet, the next batch is appended without a flush either.
        let second = machine.appendCompleted(durableLength: 0, head: .empty)
        #expect(second.frames.isEmpty)
        #expect(second.storage.flushes == false)
        _ = machine.frameReceived(.data(offset: 80, bytes: Self.bytes(40)))
        // 120 bytes would be unflushed: over the limit, so this batch flushes, to storage's boundary (the sender
        // is not waiting).
        let third = machine.appendCompleted(durableLength: 0, head: .empty)
        #expect(third.storage.flushDemand == .toBoundary)
        #expect(
            machine.appendCompleted(durableLength: 120, head: .empty).frames == [
                .acknowledgement(durableLength: 120, head: .empty)
            ])
        // A lone frame: appended without a flush; with the queue dry, the flush timer is armed, and when it goes
        // off with no data since, everything is flushed and acknowledged.
        _ = machine.frameReceived(.data(offset: 120, bytes: Self.bytes(5)))
        let dry = machine.appendCompleted(durableLength: 120, head: .empty)
        #expect(dry.frames.isEmpty)
        #expect(dry.storage.flushes == nil)
        #expect(dry.armFlushTimer == .milliseconds(5))
        let quiet = machine.flushTimerFired()
        #expect(quiet.storage.flushDemand == .everything)
        #expect(quiet.storage.appendedBytes == [])
        #expect(
            machine.appendCompleted(durableLength: 125, head: .empty).frames == [
                .acknowledgement(durableLength: 125, head: .empty)
            ])
    }

    @Test("bytes a flush to storage's boundary left behind are flushed once the sender is quiet")
    func boundaryFlushRemainder() {
        var machine = Self.appending(limits: .init(flushEveryBytes: 100))
        _ = machine.frameReceived(.data(offset: 0, bytes: Self.bytes(60)))
        _ = machine.frameReceived(.data(offset: 60, bytes: Self.bytes(60)))
        #expect(machine.appendCompleted(durableLength: 0, head: .empty).storage.flushDemand == .toBoundary)
        // Storage made 100 of the 120 bytes durable (its boundary): acknowledge those; with nothing queued, the
        // remaining 20 wait for the quiet period, then are flushed completely.
        let partial = machine.appendCompleted(durableLength: 100, head: .empty)
        #expect(partial.frames == [.acknowledgement(durableLength: 100, head: .empty)])
        #expect(partial.storage.flushes == nil)
        #expect(partial.armFlushTimer != nil)
        let quiet = machine.flushTimerFired()
        #expect(quiet.storage.flushDemand == .everything)
        #expect(quiet.storage.appendedBytes == [])
        let rest = machine.appendCompleted(durableLength: 120, head: .empty)
        #expect(rest.frames == [.acknowledgement(durableLength: 120, head: .empty)])
        #expect(rest.storage.flushes == nil)
    }

    @Test("data in the quiet period postpones the complete flush, but no longer than the maximum delay")
    func quietPeriod() {
        var machine = Self.appending(
            limits: .init(
                flushEveryBytes: 1 << 20, flushQuietPeriod: .milliseconds(5), maximumFlushDelay: .milliseconds(15)))
        var offset: UInt64 = 0
        /// One frame, appended without a flush; returns what its completion does with the queue dry.
        func burst() -> ReceiverAction {
            #expect(machine.frameReceived(.data(offset: offset, bytes: Self.bytes(10))).storage.flushes == false)
            offset += 10
            return machine.appendCompleted(durableLength: 0, head: .empty)
        }
        #expect(burst().armFlushTimer == .milliseconds(5))
        // More data within the period: the timer, already armed, is not armed twice; when it fires it starts over.
        #expect(burst().armFlushTimer == nil)
        let first = machine.flushTimerFired()
        #expect(first.storage.flushes == nil)
        #expect(first.armFlushTimer == .milliseconds(5))
        _ = burst()
        #expect(machine.flushTimerFired().armFlushTimer == .milliseconds(5))
        _ = burst()
        // Three periods with data in each: the bytes have waited the maximum, so everything is flushed now.
        let third = machine.flushTimerFired()
        #expect(third.storage.flushDemand == .everything)
        #expect(
            machine.appendCompleted(durableLength: offset, head: .empty).frames == [
                .acknowledgement(durableLength: offset, head: .empty)
            ])
        // A timer that fires with nothing unflushed does nothing.
        #expect(machine.flushTimerFired().storage.flushes == nil)
    }

    @Test("a sync, or a shutdown, while bytes wait for the quiet period flushes them at once")
    func syncAndShutdownWhileQuiet() {
        var machine = Self.appending(limits: .init(flushEveryBytes: 1 << 20))
        _ = machine.frameReceived(.data(offset: 0, bytes: Self.bytes(10)))
        #expect(machine.appendCompleted(durableLength: 0, head: .empty).armFlushTimer != nil)
        #expect(machine.frameReceived(.sync).storage.flushDemand == .everything)
        #expect(
            machine.appendCompleted(durableLength: 10, head: .empty).frames == [
                .acknowledgement(durableLength: 10, head: .empty)
            ])
        // The timer armed before the sync finds nothing left to flush.
        #expect(machine.flushTimerFired().storage.flushes == nil)

        _ = machine.frameReceived(.data(offset: 10, bytes: Self.bytes(5)))
        #expect(machine.appendCompleted(durableLength: 10, head: .empty).armFlushTimer != nil)
        let shutdown = machine.shutdownRequested()
        #expect(shutdown.reading == .pause)
        #expect(shutdown.storage.flushDemand == .everything)
        let completed = machine.appendCompleted(durableLength: 15, head: .empty)
        #expect(completed.frames.first == .acknowledgement(durableLength: 15, head: .empty))
        #expect(completed.frames.last?.errorCode == .shuttingDown)
        #expect(completed.storage.isRelease)
        #expect(completed.close)
    }

    @Test("a sync while storage is busy makes the next operation flush")
    func syncWhileBusy() {
        var machine = Self.appending(limits: .init(flushEveryBytes: 1 << 20))
        _ = machine.frameReceived(.data(offset: 0, bytes: Self.bytes(10)))
        _ = machine.frameReceived(.data(offset: 10, bytes: Self.bytes(10)))
        #expect(machine.frameReceived(.sync).frames.isEmpty)
        #expect(machine.appendCompleted(durableLength: 0, head: .empty).storage.flushes == true)
    }

    @Test("data at the wrong offset is refused and says where to resume")
    func wrongOffset() {
        var machine = Self.appending(at: 100)
        let action = machine.frameReceived(.data(offset: 0, bytes: Self.bytes(10)))
        #expect(action.frames.first?.errorCode == .wrongOffset)
        #expect(action.frames.first?.errorMessage?.contains("100") == true)
        #expect(action.close)
        #expect(action.storage.isRelease)
    }

    @Test("a sync with nothing in flight is acknowledged at the end of its read; in flight, by the completion")
    func sync() {
        var machine = Self.appending(at: 7)
        #expect(machine.frameReceived(.sync).frames.isEmpty)
        #expect(machine.frameReceived(.sync).frames.isEmpty)
        #expect(machine.inboundBatchEnded().frames == [.acknowledgement(durableLength: 7, head: .empty)])
        #expect(machine.inboundBatchEnded().frames.isEmpty)
        _ = machine.frameReceived(.data(offset: 7, bytes: Self.bytes(3)))
        #expect(machine.frameReceived(.sync).frames.isEmpty)
        #expect(
            machine.appendCompleted(durableLength: 10, head: .empty).frames == [
                .acknowledgement(durableLength: 10, head: .empty)
            ])
    }

    @Test("reading pauses when the queue reaches the limit and resumes when it has gone to storage")
    func backpressure() {
        var machine = Self.appending(limits: .init(pauseReadingAt: 100, readChunkBytes: 64, flushEveryBytes: 1))
        _ = machine.frameReceived(.data(offset: 0, bytes: Self.bytes(10)))  // in flight
        #expect(machine.frameReceived(.data(offset: 10, bytes: Self.bytes(60))).reading == nil)
        #expect(machine.frameReceived(.data(offset: 70, bytes: Self.bytes(40))).reading == .pause)
        // Frames already decoded still arrive while paused; they queue without a second pause.
        #expect(machine.frameReceived(.data(offset: 110, bytes: Self.bytes(1))).reading == nil)
        let completed = machine.appendCompleted(durableLength: 10, head: .empty)
        #expect(completed.reading == .resume)
        #expect(completed.storage.appendedBytes == [60, 40, 1])
    }

    @Test("a storage failure is reported to the sender and releases the stream")
    func storageFailure() {
        var machine = Self.appending()
        _ = machine.frameReceived(.data(offset: 0, bytes: Self.bytes(10)))
        let action = machine.storageFailed(StreamStorageError(kind: .io, message: "disk full"))
        #expect(action.frames.first?.errorCode == .storageFailure)
        #expect(action.storage.isRelease)
        #expect(action.close)
    }

    @Test("a busy stream is refused")
    func busy() {
        var machine = Self.machine()
        _ = machine.frameReceived(.hello(Hello(intent: .append, stream: "a")))
        let action = machine.storageFailed(.streamBusy(try! StreamName("a")))
        #expect(action.frames.first?.errorCode == .streamBusy)
        #expect(action.close)
    }

    @Test("shutdown while an append is in flight pauses, flushes, acknowledges, then closes")
    func shutdownWhileBusy() {
        var machine = Self.appending()
        _ = machine.frameReceived(.data(offset: 0, bytes: Self.bytes(10)))
        let shutdown = machine.shutdownRequested()
        #expect(shutdown.reading == .pause)
        #expect(!shutdown.close)
        let completed = machine.appendCompleted(durableLength: 10, head: .empty)
        #expect(completed.frames.first == .acknowledgement(durableLength: 10, head: .empty))
        #expect(completed.frames.last?.errorCode == .shuttingDown)
        #expect(completed.storage.isRelease)
        #expect(completed.close)
    }

    @Test("a connection that closes mid-append releases the stream after the append completes")
    func closeWhileBusy() {
        var machine = Self.appending()
        _ = machine.frameReceived(.data(offset: 0, bytes: Self.bytes(10)))
        #expect(machine.connectionClosed().storage == nil)
        let completed = machine.appendCompleted(durableLength: 10, head: .empty)
        #expect(completed.storage.isRelease)
        #expect(completed.frames.isEmpty)
    }

    @Test("a restore reads the range in chunks, waits while unwritable, and ends with the range's end")
    func restore() {
        var machine = Self.machine(limits: .init(pauseReadingAt: 100, readChunkBytes: 4, flushEveryBytes: 1))
        _ = machine.frameReceived(.hello(Hello(intent: .read, stream: "a")))
        #expect(machine.streamOpened(length: 10, head: .empty).frames == [.ready(length: 10, head: .empty)])
        #expect(machine.frameReceived(.readRange(offset: 2, length: 7)).storage.readRange == [2, 4])
        let first = machine.readCompleted(Self.bytes(4))
        #expect(first.frames == [.data(offset: 2, bytes: Self.bytes(4))])
        #expect(first.storage.readRange == [6, 3])
        // The client stops keeping up: the next read waits for writability.
        #expect(machine.writabilityChanged(isWritable: false).storage == nil)
        let second = machine.readCompleted(Self.bytes(3))
        #expect(second.frames == [.data(offset: 6, bytes: Self.bytes(3)), .end(offset: 9)])
        #expect(second.storage.isRelease)
    }

    @Test("a range outside the stream is refused; an empty range ends at once")
    func ranges() {
        var machine = Self.machine()
        _ = machine.frameReceived(.hello(Hello(intent: .read, stream: "a")))
        _ = machine.streamOpened(length: 10, head: .empty)
        let outside = machine.frameReceived(.readRange(offset: 5, length: UInt64.max))
        #expect(outside.frames.first?.errorCode == .outOfRange)

        var empty = Self.machine()
        _ = empty.frameReceived(.hello(Hello(intent: .read, stream: "a")))
        _ = empty.streamOpened(length: 10, head: .empty)
        #expect(empty.frameReceived(.readRange(offset: 10, length: 0)).frames == [.end(offset: 10)])
    }

    @Test("malformed bytes are answered with malformed-frame; nothing after a close is answered")
    func malformed() {
        var machine = Self.appending()
        let action = machine.decodingFailed(FrameParserErrors.oversized)
        #expect(action.frames.first?.errorCode == .malformedFrame)
        #expect(action.close)
        #expect(machine.frameReceived(.sync).frames.isEmpty)
    }
}

/// A real FrameError, produced by the parser rather than constructed.
enum FrameParserErrors {
    static var oversized: FrameError {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32.max)
        do {
            _ = try FrameParser().parse(&buffer)
        } catch {
            return error
        }
        fatalError("the parser accepted a 4 GiB frame")
    }
}

extension Frame {
    var errorCode: ProtocolErrorCode? {
        if case .error(let error) = self { return error.code }
        return nil
    }

    var errorMessage: String? {
        if case .error(let error) = self { return error.message }
        return nil
    }
}

extension Optional where Wrapped == StorageOperation {
    var isRelease: Bool {
        if case .release? = self { return true }
        return false
    }

    var appendedBytes: [Int]? {
        if case .append(let buffers, _)? = self { return buffers.map(\.readableBytes) }
        return nil
    }

    var flushes: Bool? {
        if case .append(_, let flush)? = self { return flush != .none }
        return nil
    }

    var flushDemand: FlushDemand? {
        if case .append(_, let flush)? = self { return flush }
        return nil
    }

    var readRange: [UInt64]? {
        if case .read(let offset, let count)? = self { return [offset, UInt64(count)] }
        return nil
    }
}

/// Revocation: a certificate on the deny list is refused before any frame, and a reload that revokes a
/// connected sender ends its connection.
@Suite("Receiver state machine: revocation")
struct ReceiverRevocationTests {
    static let sender = CertifiedPeer(commonName: "home", issuer: "ca", serialNumber: "1f")

    static func revoking(serial: String) throws -> AuthorizationPolicy {
        var policy = ReceiverStateMachineTests.policy
        policy.revoked = try DenyList(parsing: "serial \(serial)", file: "d")
        return policy
    }

    @Test("a revoked certificate is refused as soon as the handshake names it")
    func refusedAtIdentification() throws {
        var machine = ReceiverStateMachine(policy: try Self.revoking(serial: "1F"))
        let action = machine.peerIdentified(Self.sender)
        #expect(action.frames.first?.errorCode == .certificateRevoked)
        #expect(action.frames.first?.errorMessage?.contains("'home'") == true)
        #expect(action.close)
        // Whatever it sends afterwards is dropped: the connection is closing.
        let late = machine.frameReceived(.hello(Hello(intent: .append, stream: "ee.population.wal")))
        #expect(late.frames.isEmpty && late.storage == nil)
    }

    @Test("a reload that revokes an appending sender closes it; one that does not changes nothing")
    func reloadWhileAppending() throws {
        var machine = ReceiverStateMachine(limits: .init(flushEveryBytes: 1), policy: ReceiverStateMachineTests.policy)
        #expect(machine.peerIdentified(Self.sender).frames.isEmpty)
        _ = machine.frameReceived(.hello(Hello(intent: .append, stream: "ee.population.wal")))
        _ = machine.streamOpened(length: 0, head: .empty)

        let unrelated = machine.policyChanged(try Self.revoking(serial: "20"))
        #expect(unrelated.frames.isEmpty && !unrelated.close)

        let revoked = machine.policyChanged(try Self.revoking(serial: "1f"))
        #expect(revoked.frames.first?.errorCode == .certificateRevoked)
        #expect(revoked.close)
        #expect(revoked.storage.isRelease)
    }

    @Test("a reload's new grants decide the next hello")
    func reloadChangesGrants() throws {
        var machine = ReceiverStateMachine(policy: ReceiverStateMachineTests.policy)
        machine.peerIdentified(CertifiedPeer(commonName: "reader", serialNumber: "3"))
        _ = machine.policyChanged(try AuthorizationPolicy(parsing: "reader read ee.land", file: "p"))
        let refused = machine.frameReceived(.hello(Hello(intent: .read, stream: "ee.population.wal")))
        #expect(refused.frames.first?.errorCode == .notAuthorized)
    }
}
