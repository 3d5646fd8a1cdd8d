import Authorization
import HashChain
import NIOCore
import StreamStore

/// The appliance's end of one replication connection, as a pure state machine.
///
/// The channel handler feeds it events (frames, storage completions, writability) and executes the
/// ``ReceiverAction`` each event returns; it never decides anything itself. Storage runs one operation at a time
/// per connection: while an append-and-flush is in flight, arriving data is queued, and the next operation
/// takes the whole queue, so a busy connection flushes less often per byte (group commit). A sender that goes
/// quiet is acknowledged after the quiet period (``Limits/flushQuietPeriod``), one that asks with a sync at once.
public struct ReceiverStateMachine {
    /// How much data a connection may queue before the appliance stops reading from it.
    public struct Limits: Sendable {
        /// Queued bytes at which reading pauses until the queue has gone to storage.
        public var pauseReadingAt: Int
        /// The most bytes one read operation fetches for a restore.
        public var readChunkBytes: Int
        /// While data keeps arriving, appended bytes are flushed (and acknowledged, up to storage's last natural
        /// boundary) at least this often. Continuous streams thus pay one flush per this many bytes.
        public var flushEveryBytes: Int
        /// When the queue runs dry, everything appended is flushed once no data has come for this long: a sender
        /// that paused is acknowledged within about this, one that merely outran storage for a moment goes on
        /// without a flush that would journal the open segment. Zero flushes at once. A sync is never delayed.
        public var flushQuietPeriod: Duration
        /// The longest appended bytes wait for a complete flush while data keeps coming in short bursts.
        public var maximumFlushDelay: Duration
        /// How long a client may take from connecting to its hello (the TLS handshake included).
        public var helloTimeout: Duration
        /// How long a client may keep the appliance waiting for it: for a complete frame, or to read what it was
        /// sent. A sender trickling a byte a second never completes a frame and is cut off after this.
        public var idleTimeout: Duration
        /// Receipts signed for one connection in a burst; beyond it, one more per ``receiptInterval``. Signing costs
        /// CPU and each receipt is a frame the client must read, so a client asking faster is refused.
        public var receiptBurst: Int
        /// The time after which one more receipt may be asked for, once the burst is spent.
        public var receiptInterval: Duration
        /// Whether this port takes appends. The reader service's port (`saatkond reader`) does not: it serves
        /// restores and listings, and refuses an append whatever the policy grants, saying where appends go.
        public var servesAppends: Bool

        /// Creates limits.
        public init(
            pauseReadingAt: Int = 8 << 20, readChunkBytes: Int = 256 << 10, flushEveryBytes: Int = 16 << 20,
            flushQuietPeriod: Duration = .milliseconds(5), maximumFlushDelay: Duration = .seconds(1),
            helloTimeout: Duration = .seconds(10), idleTimeout: Duration = .seconds(120), receiptBurst: Int = 4,
            receiptInterval: Duration = .seconds(1), servesAppends: Bool = true
        ) {
            self.servesAppends = servesAppends
            precondition(receiptBurst > 0 && receiptInterval > .zero)
            self.receiptBurst = receiptBurst
            self.receiptInterval = receiptInterval
            precondition(flushEveryBytes > 0)
            precondition(flushQuietPeriod >= .zero && maximumFlushDelay >= flushQuietPeriod)
            self.flushEveryBytes = flushEveryBytes
            self.flushQuietPeriod = flushQuietPeriod
            self.maximumFlushDelay = maximumFlushDelay
            precondition(pauseReadingAt > 0 && readChunkBytes > 0 && readChunkBytes <= ProtocolLimits.maximumDataBytes)
            self.pauseReadingAt = pauseReadingAt
            self.readChunkBytes = readChunkBytes
            self.helloTimeout = helloTimeout
            self.idleTimeout = idleTimeout
        }
    }

    // Internal rather than private where the listing session (ReceiverStateMachine+List.swift) needs it.
    enum State {
        case awaitingHello
        case opening(Hello.Intent, StreamName)
        case appending(Appending)
        case awaitingRange(streamLength: UInt64)
        case reading(Reading)
        /// A read's range, or a listing, was sent; the client closes.
        case readComplete
        case listing(Listing)
        case closed
    }

    struct Appending {
        var stream: StreamName
        var acceptedLength: UInt64
        var acknowledgedLength: UInt64
        var acknowledgedHead: ChainHead
        var queue: [ByteBuffer] = []
        var queuedBytes = 0
        var storageBusy = false
        /// Reading paused because the queue is full (``Limits/pauseReadingAt``).
        var readingPaused = false
        /// The durable length grew (or a sync asked for it) while the client did not read: one acknowledgement of
        /// the latest length is sent once it reads again, instead of one per event.
        var acknowledgementOwed = false
        var closeWhenIdle = false
        /// Bytes appended to storage but not yet flushed.
        var unflushedBytes = 0
        /// A sync arrived while storage was busy: the next operation flushes.
        var syncPending = false
        /// The flush timer is pending: the queue ran dry with bytes unflushed.
        var flushTimerArmed = false
        /// Data came since the flush timer was armed: the quiet period starts again.
        var dataSinceTimerArmed = false
        /// How long unflushed bytes have waited for a complete flush, in quiet periods.
        var flushDelay: Duration = .zero
    }

    struct Reading {
        var next: UInt64
        var end: UInt64
        var storageBusy = false
        var writable: Bool
    }

    var state: State = .awaitingHello
    let limits: Limits
    private(set) var policy: AuthorizationPolicy
    private(set) var peer: CertifiedPeer?
    private(set) var writable = true
    private var receipts: TokenBucket

    /// Creates the state machine of a new connection, which grants what `policy` grants its peer's identity.
    public init(limits: Limits = Limits(), policy: AuthorizationPolicy) {
        self.limits = limits
        self.policy = policy
        receipts = TokenBucket(capacity: limits.receiptBurst, interval: limits.receiptInterval)
    }

    /// The TLS handshake completed; `identity` is the common name of the client's certificate (nil if it has none).
    public mutating func peerIdentified(_ identity: String?) {
        peerIdentified(identity.map { CertifiedPeer(commonName: $0) })
    }

    /// The TLS handshake completed with `peer`'s verified certificate (nil if it presented none). A revoked
    /// certificate is refused before any frame of it is read.
    @discardableResult
    public mutating func peerIdentified(_ peer: CertifiedPeer?) -> ReceiverAction {
        self.peer = peer
        return refuseIfRevoked()
    }

    /// Home reloaded the policy or its deny list: later hellos are decided by `policy`, and a connection whose
    /// certificate it now revokes ends at once (what it had acknowledged is durable; the rest it may not send).
    public mutating func policyChanged(_ policy: AuthorizationPolicy) -> ReceiverAction {
        self.policy = policy
        return refuseIfRevoked()
    }

    private mutating func refuseIfRevoked() -> ReceiverAction {
        guard let peer, policy.revoked.denies(peer) else { return .none }
        if case .closed = state { return .none }
        return fail(.certificateRevoked, "the certificate \(peer) is revoked; home issues a new one")
    }

    /// A frame arrived from the client at `now` (a monotonic time from any fixed origin; only the receipt rate
    /// limit looks at it).
    public mutating func frameReceived(_ frame: Frame, at now: Duration = .zero) -> ReceiverAction {
        switch (state, frame) {
        case (.closed, _):
            // Frames already in flight when we closed are dropped; the close is on its way.
            return .none
        case (.awaitingHello, .hello(let hello)):
            guard hello.version == ProtocolLimits.version else {
                return fail(
                    .unsupportedVersion,
                    "this appliance speaks protocol version \(ProtocolLimits.version), "
                        + "the client \(hello.version); update the client")
            }
            if hello.intent == .list { return listRequested(prefix: hello.stream) }
            let name: StreamName
            do {
                name = try StreamName(hello.stream)
            } catch {
                return fail(.invalidStreamName, error.description)
            }
            if hello.intent == .append && !limits.servesAppends {
                return fail(
                    .notAuthorized,
                    "this port serves restores and listings only; send to the appliance's replication port")
            }
            let operation: AuthorizationPolicy.Operation = hello.intent == .append ? .append : .read
            guard let peer, policy.allows(peer, operation, stream: name.rawValue) else {
                return fail(
                    .notAuthorized,
                    "the certificate \(peer?.commonName.map { "'\($0)'" } ?? "without a common name") may not "
                        + "\(operation.rawValue) stream \(name); home grants that in the appliance's authorization policy"
                )
            }
            state = .opening(hello.intent, name)
            return ReceiverAction(storage: .open(name, hello.intent))
        case (.appending(var appending), .data(let offset, let bytes)):
            guard offset == appending.acceptedLength else {
                return fail(
                    .wrongOffset,
                    "data arrived at offset \(offset) but the stream continues at "
                        + "\(appending.acceptedLength); resume from the acknowledged length")
            }
            appending.acceptedLength += UInt64(bytes.readableBytes)
            appending.dataSinceTimerArmed = true
            appending.queue.append(bytes)
            appending.queuedBytes += bytes.readableBytes
            var action = ReceiverAction.none
            if !appending.storageBusy {
                action.storage = takeQueue(&appending)
            } else if appending.queuedBytes >= limits.pauseReadingAt && !appending.readingPaused {
                appending.readingPaused = true
                action.reading = .pause
            }
            state = .appending(appending)
            return action
        case (.appending(var appending), .sync):
            // With nothing unflushed a sync only needs an answer of its own; bytes waiting for the quiet period are
            // flushed now; otherwise the next operation flushes.
            // Answered at the end of the read batch (``inboundBatchEnded()``): syncs read together get one answer.
            if !appending.storageBusy && appending.queue.isEmpty && appending.unflushedBytes == 0 {
                appending.acknowledgementOwed = true
                state = .appending(appending)
                return .none
            }
            appending.syncPending = true
            var action = ReceiverAction.none
            if !appending.storageBusy {
                action.storage = takeQueue(&appending)
            }
            state = .appending(appending)
            return action
        case (.appending(let appending), .receiptRequest):
            guard receipts.take(at: now) else {
                return fail(
                    .rateLimited,
                    "more than \(limits.receiptBurst) receipt requests at once, or more than one per "
                        + "\(limits.receiptInterval) after them; ask for a receipt when the send is done")
            }
            // A receipt speaks for what is acknowledged: durable, whatever is still on its way to storage.
            var action = ReceiverAction.none
            action.receipt = ReceiptRequest(
                stream: appending.stream, durableLength: appending.acknowledgedLength,
                head: appending.acknowledgedHead)
            return action
        case (.awaitingRange(let streamLength), .readRange(let offset, let length)):
            guard offset <= streamLength, length <= streamLength - offset else {
                return fail(
                    .outOfRange, "the range \(offset)+\(length) lies outside the stream's \(streamLength) bytes")
            }
            if length == 0 {
                state = .readComplete
                return ReceiverAction(frames: [.end(offset: offset)])
            }
            var reading = Reading(next: offset, end: offset + length, writable: writable)
            let action = nextRead(&reading)
            state = .reading(reading)
            return action
        case (_, .error):
            // The client gave up and told us why; there is nothing to answer.
            state = .closed
            return ReceiverAction(close: true)
        default:
            return fail(.unexpectedFrame, "a \(frame.kind) frame is not allowed \(stateDescription)")
        }
    }

    /// How long the client may leave the appliance waiting now, or nil when the appliance is not waiting for it
    /// (storage is working, or reading is paused by the appliance's own backpressure).
    public var clientDeadline: Duration? {
        switch state {
        case .awaitingHello: return limits.helloTimeout
        case .opening, .closed, .readComplete: return nil
        case .appending(let appending):
            return appending.storageBusy || appending.readingPaused ? nil : limits.idleTimeout
        case .awaitingRange: return limits.idleTimeout
        case .reading(let reading): return reading.storageBusy || reading.writable ? nil : limits.idleTimeout
        case .listing(let listing): return listing.storageBusy || writable ? nil : limits.idleTimeout
        }
    }

    /// The client kept the appliance waiting longer than ``clientDeadline``.
    public mutating func clientTimedOut() -> ReceiverAction {
        switch state {
        case .closed: return .none
        case .awaitingHello:
            return fail(.timedOut, "no hello within \(limits.helloTimeout) of connecting")
        default:
            return fail(.timedOut, "the client sent no complete frame and read nothing for \(limits.idleTimeout)")
        }
    }

    /// The bytes could not be parsed as a frame.
    public mutating func decodingFailed(_ error: FrameError) -> ReceiverAction {
        if case .closed = state { return .none }
        return fail(.malformedFrame, error.description)
    }

    /// The store opened the stream; `length` is its durable length (append) or its length (read), `head` the
    /// stream's head there.
    public mutating func streamOpened(length: UInt64, head: ChainHead) -> ReceiverAction {
        guard case .opening(let intent, let stream) = state else {
            if case .closed = state { return ReceiverAction(storage: .release) }
            fatalError("streamOpened in \(state): the shell opens a stream only when asked to")
        }
        var action = ReceiverAction(frames: [.ready(length: length, head: head)])
        switch intent {
        case .append:
            state = .appending(
                Appending(stream: stream, acceptedLength: length, acknowledgedLength: length, acknowledgedHead: head))
            action.acceptDataFrames = true
        case .read:
            state = .awaitingRange(streamLength: length)
        case .list:
            fatalError("streamOpened for a listing: a listing opens no stream")
        }
        return action
    }

    /// The store refused or failed an operation.
    public mutating func storageFailed(_ error: StreamStorageError) -> ReceiverAction {
        // The failed operation is over, so whatever the session holds can be released with the failure.
        switch state {
        case .closed:
            return ReceiverAction(storage: .release)
        case .opening:
            state = .awaitingHello
        case .appending(var appending):
            appending.storageBusy = false
            state = .appending(appending)
        case .reading(var reading):
            reading.storageBusy = false
            state = .reading(reading)
        case .listing(var listing):
            listing.storageBusy = false
            state = .listing(listing)
        default:
            break
        }
        let code: ProtocolErrorCode
        switch error.kind {
        case .unknownStream: code = .unknownStream
        case .streamBusy: code = .streamBusy
        case .outOfRange: code = .outOfRange
        case .io, .corrupt, .unavailable, .configuration: code = .storageFailure
        }
        return fail(code, error.description)
    }

    /// The stream could not be opened because the appliance's caps on open streams are reached (``StreamSlots``);
    /// nothing was opened.
    public mutating func openRefused(_ reason: StreamSlots.Refusal) -> ReceiverAction {
        guard case .opening = state else {
            if case .closed = state { return .none }
            fatalError("openRefused in \(state): only an opening stream is refused")
        }
        state = .awaitingHello
        return fail(.applianceBusy, reason.description)
    }

    /// An append finished; after a flush everything below `durableLength` is durable, and `head` is the head there.
    public mutating func appendCompleted(durableLength: UInt64, head: ChainHead) -> ReceiverAction {
        guard case .appending(var appending) = state else {
            if case .closed = state { return ReceiverAction(storage: .release) }
            fatalError("appendCompleted in \(state): only an appending session starts appends")
        }
        precondition(appending.storageBusy, "appendCompleted without an append in flight")
        appending.storageBusy = false
        var action = ReceiverAction.none
        if durableLength > appending.acknowledgedLength {
            appending.acknowledgedLength = durableLength
            appending.acknowledgedHead = head
            acknowledge(&appending, into: &action)
        }
        // A flush to a boundary leaves the bytes past it unflushed: counted again, they are flushed when the queue
        // runs dry or the next volume flush comes.
        let appended = appending.acceptedLength - UInt64(appending.queuedBytes)
        appending.unflushedBytes = Int(appended - appending.acknowledgedLength)
        if !appending.queue.isEmpty {
            action.storage = takeQueue(&appending)
        } else if appending.unflushedBytes > 0 {
            // The queue ran dry: flush what was appended once the sender has been quiet for a moment (at once if it
            // waits for a sync, or the session closes).
            if appending.syncPending || appending.closeWhenIdle || limits.flushQuietPeriod == .zero {
                action.storage = takeQueue(&appending)
            } else if !appending.flushTimerArmed {
                appending.flushTimerArmed = true
                appending.dataSinceTimerArmed = false
                action.armFlushTimer = limits.flushQuietPeriod
            }
        } else if appending.closeWhenIdle {
            state = .closed
            action.frames.append(
                .error(
                    ErrorFrame(
                        code: .shuttingDown,
                        message: "the appliance is shutting down; everything acknowledged is durable, resume later")))
            action.storage = .release
            action.close = true
            return action
        }
        if appending.readingPaused {
            appending.readingPaused = false
            if writable { action.reading = .resume }
        }
        state = .appending(appending)
        return action
    }

    /// A read for a restore returned `bytes`, the next part of the range.
    public mutating func readCompleted(_ bytes: ByteBuffer) -> ReceiverAction {
        guard case .reading(var reading) = state else {
            if case .closed = state { return ReceiverAction(storage: .release) }
            fatalError("readCompleted in \(state): only a reading session starts reads")
        }
        precondition(reading.storageBusy && bytes.readableBytes > 0, "readCompleted without a read in flight")
        reading.storageBusy = false
        var action = ReceiverAction(frames: [.data(offset: reading.next, bytes: bytes)])
        reading.next += UInt64(bytes.readableBytes)
        if reading.next >= reading.end {
            state = .readComplete
            action.frames.append(.end(offset: reading.end))
            action.storage = .release
            return action
        }
        action.storage = nextRead(&reading).storage
        state = .reading(reading)
        return action
    }

    /// The channel's writability changed. A client that does not read what it was sent is not read from either,
    /// whatever it sends: otherwise a client sending syncs or receipt requests without reading their answers
    /// would grow the appliance's outbound buffers without bound. Restores only read ahead while the client keeps
    /// up, and an appending session owes at most one acknowledgement (of the latest length) while it waits.
    public mutating func writabilityChanged(isWritable: Bool) -> ReceiverAction {
        let wasWritable = writable
        writable = isWritable
        var action = ReceiverAction.none
        switch state {
        case .closed:
            return .none
        case .reading(var reading):
            reading.writable = isWritable
            action = nextRead(&reading)
            state = .reading(reading)
        case .listing(var listing):
            // Like a restore, a listing asks for its next page only while the client keeps up.
            action = nextPage(&listing)
            state = .listing(listing)
        case .appending(var appending):
            if isWritable && appending.acknowledgementOwed {
                acknowledge(&appending, into: &action)
            }
            state = .appending(appending)
            if isWritable && appending.readingPaused { return action }
        default:
            break
        }
        if wasWritable != isWritable { action.reading = isWritable ? .resume : .pause }
        return action
    }

    /// The frames of one read from the socket have all been delivered: a sync read among them that is answered at
    /// once is answered now, with one acknowledgement for all of them, so a flood of syncs costs one answer per read,
    /// not one per sync (or later, once the client reads again).
    public mutating func inboundBatchEnded() -> ReceiverAction {
        guard case .appending(var appending) = state, appending.acknowledgementOwed, writable else { return .none }
        var action = ReceiverAction.none
        acknowledge(&appending, into: &action)
        state = .appending(appending)
        return action
    }

    /// The flush timer that ``ReceiverAction/armFlushTimer`` asked for went off.
    public mutating func flushTimerFired() -> ReceiverAction {
        guard case .appending(var appending) = state, appending.flushTimerArmed else { return .none }
        appending.flushTimerArmed = false
        appending.flushDelay += limits.flushQuietPeriod
        var action = ReceiverAction.none
        if appending.storageBusy || appending.unflushedBytes == 0 {
            // Storage is at work (its completion looks again), or a flush already took everything.
        } else if !appending.dataSinceTimerArmed || appending.flushDelay >= limits.maximumFlushDelay {
            action.storage = takeQueue(&appending)
        } else {
            appending.flushTimerArmed = true
            appending.dataSinceTimerArmed = false
            action.armFlushTimer = limits.flushQuietPeriod
        }
        state = .appending(appending)
        return action
    }

    /// The appliance is shutting down: stop taking data, flush what was taken, then close.
    public mutating func shutdownRequested() -> ReceiverAction {
        switch state {
        case .appending(var appending) where appending.storageBusy:
            appending.closeWhenIdle = true
            state = .appending(appending)
            return ReceiverAction(reading: .pause)
        case .appending(var appending) where appending.unflushedBytes > 0:
            // Bytes waiting for the quiet period: flush them, acknowledge, then close.
            appending.closeWhenIdle = true
            var action = ReceiverAction(reading: .pause)
            action.storage = takeQueue(&appending)
            state = .appending(appending)
            return action
        case .closed:
            return .none
        default:
            return fail(.shuttingDown, "the appliance is shutting down; resume later")
        }
    }

    /// The connection closed; whatever storage is held must be released once idle.
    public mutating func connectionClosed() -> ReceiverAction {
        let busy: Bool
        switch state {
        case .appending(let appending): busy = appending.storageBusy
        case .reading(let reading): busy = reading.storageBusy
        case .listing(let listing): busy = listing.storageBusy
        case .opening: busy = true
        default: busy = false
        }
        if case .closed = state, !busy { return .none }
        state = .closed
        // With an operation in flight the release follows its completion, which sees `.closed`.
        return busy ? .none : ReceiverAction(storage: .release)
    }

    /// Acknowledges the session's acknowledged length now, or once the client reads again.
    private func acknowledge(_ appending: inout Appending, into action: inout ReceiverAction) {
        guard writable else {
            appending.acknowledgementOwed = true
            return
        }
        appending.acknowledgementOwed = false
        action.frames.append(
            .acknowledgement(durableLength: appending.acknowledgedLength, head: appending.acknowledgedHead))
    }

    /// Hands the queue to storage: flushing everything when the queue is about to run dry, a sync waits or the
    /// session closes, and to storage's boundary when enough is unflushed.
    private func takeQueue(_ appending: inout Appending) -> StorageOperation {
        let buffers = appending.queue
        let batchBytes = appending.queuedBytes
        appending.queue = []
        appending.queuedBytes = 0
        appending.storageBusy = true
        appending.unflushedBytes += batchBytes
        let flush: FlushDemand
        if buffers.isEmpty || appending.syncPending || appending.closeWhenIdle {
            flush = .everything
        } else if appending.unflushedBytes >= limits.flushEveryBytes {
            flush = .toBoundary
        } else {
            flush = .none
        }
        if flush == .everything {
            appending.flushDelay = .zero
        }
        if flush != .none {
            appending.unflushedBytes = 0
            appending.syncPending = false
        }
        return .append(buffers, flush: flush)
    }

    private func nextRead(_ reading: inout Reading) -> ReceiverAction {
        guard reading.writable, !reading.storageBusy, reading.next < reading.end else { return .none }
        reading.storageBusy = true
        let count = Int(min(UInt64(limits.readChunkBytes), reading.end - reading.next))
        return ReceiverAction(storage: .read(offset: reading.next, count: count))
    }

    mutating func fail(_ code: ProtocolErrorCode, _ message: String) -> ReceiverAction {
        let busy: Bool
        switch state {
        case .appending(let appending): busy = appending.storageBusy
        case .reading(let reading): busy = reading.storageBusy
        case .listing(let listing): busy = listing.storageBusy
        case .opening: busy = true
        default: busy = false
        }
        state = .closed
        return ReceiverAction(
            frames: [.error(ErrorFrame(code: code, message: message))], storage: busy ? nil : .release, close: true)
    }

    private var stateDescription: String {
        switch state {
        case .awaitingHello: return "before the hello"
        case .opening: return "while the stream is opening"
        case .appending: return "while appending"
        case .awaitingRange: return "before a read range"
        case .reading: return "while reading"
        case .readComplete: return "after the read or listing completed"
        case .listing: return "while listing"
        case .closed: return "after the connection closed"
        }
    }
}
