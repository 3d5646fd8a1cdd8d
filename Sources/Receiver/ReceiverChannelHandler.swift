import Authorization
import HashChain
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import Receipts
import ReplicationProtocol
import StreamStore

/// Asks a receiver connection to finish what it has taken and close; sent down the pipeline at shutdown.
public struct ReceiverShutdownEvent: Sendable {
    /// Creates the event.
    public init() {}
}

/// Home reloaded the authorization policy or its deny list; sent down every connection's pipeline.
struct ReceiverPolicyChange: Sendable {
    var policy: AuthorizationPolicy
}

/// The shell around ``ReceiverStateMachine``: it turns channel callbacks into events and executes the actions.
/// Storage runs on a thread pool so that `fdatasync` never blocks the event loop.
final class ReceiverChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = Frame
    typealias OutboundIn = Frame
    typealias OutboundOut = Frame

    private var state: ReceiverStateMachine
    private let limits: ReceiverStateMachine.Limits
    private let storage: any StreamStorage
    private let threadPool: NIOThreadPool
    /// Where listing pages run, apart from the streams' storage work (the server's one listing thread).
    private let listingPool: NIOThreadPool
    private let session = StorageSession()
    private let logger: Logger
    /// Whether to read from the client, and the bytes held against the shared budget.
    private var readGate = ReceiverReadGate()
    private let budget: ReceiveBudget
    /// When the client last made progress; created when the handler is added.
    private var deadline = ClientDeadline(connectedAt: .zero)
    private var deadlineCheck: RepeatedTask?
    /// The pending flush timer the state machine armed, cancelled when the handler goes.
    private var flushTimer: Scheduled<Void>?

    /// Signs the receipts clients ask for, on `signingPool`: a key in a TPM takes milliseconds.
    private let receiptKey: any ReceiptSigningKey
    /// The name receipts give the appliance.
    private let applianceName: String
    private let signingPool: NIOThreadPool
    /// Receipts asked for and not yet answered, oldest first; the first is being signed. One at a time per
    /// connection, so that they go out in the order they were asked for; the state machine's rate limit on receipt
    /// requests bounds how many wait.
    private var pendingReceipts: [ReceiptRequest] = []
    private let metrics: ReplicationMetrics
    private let storageWork: StorageWork
    private var streamCounters: ReplicationMetrics.StreamCounters?
    private let streamSlots: SharedStreamSlots
    /// The decoder's limit on a frame's length, raised once the stream is open for append.
    private let frameLimit: NIOLoopBoundBox<Int>
    private let onHandshakeCompleted: () -> Void
    /// Who is at the other end once the TLS handshake completed: from the TLS handler's peer certificate (tests of
    /// the handler alone, on an EmbeddedChannel, name a peer instead).
    private let peerOf: (ChannelHandlerContext) -> CertifiedPeer?
    private var identity: String?
    /// The identity whose place among the open streams this connection holds.
    private var streamSlotHolder: String?

    init(
        storage: any StreamStorage, threadPool: NIOThreadPool, listingPool: NIOThreadPool? = nil,
        limits: ReceiverStateMachine.Limits,
        policy: AuthorizationPolicy, receiptKey: any ReceiptSigningKey, applianceName: String,
        signingPool: NIOThreadPool? = nil, metrics: ReplicationMetrics, budget: ReceiveBudget,
        storageWork: StorageWork, streamSlots: SharedStreamSlots, frameLimit: NIOLoopBoundBox<Int>,
        onHandshakeCompleted: @escaping () -> Void, logger: Logger,
        peerOf: @escaping (ChannelHandlerContext) -> CertifiedPeer? = ReceiverChannelHandler.tlsPeer
    ) {
        self.peerOf = peerOf
        self.streamSlots = streamSlots
        self.frameLimit = frameLimit
        self.onHandshakeCompleted = onHandshakeCompleted
        self.budget = budget
        self.storageWork = storageWork
        self.receiptKey = receiptKey
        self.applianceName = applianceName
        self.signingPool = signingPool ?? threadPool
        self.metrics = metrics
        self.state = ReceiverStateMachine(limits: limits, policy: policy)
        self.limits = limits
        self.storage = storage
        self.threadPool = threadPool
        self.listingPool = listingPool ?? threadPool
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        metrics.connections.increment()
        deadline = ClientDeadline(connectedAt: Self.now(context))
        // A quarter of the shortest deadline: a client is cut off at most 25 % after its deadline.
        let interval = TimeAmount(min(limits.helloTimeout, limits.idleTimeout) / 4)
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        deadlineCheck = context.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            let (handler, context) = loopBound.value
            handler.checkClientDeadline(context: context)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        metrics.connections.decrement()
        budget.cancel(ObjectIdentifier(self))
        budget.give(readGate.closed())
        deadlineCheck?.cancel()
        deadlineCheck = nil
        flushTimer?.cancel()
        flushTimer = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let now = Self.now(context)
        deadline.progressed(at: now)
        let frame = unwrapInboundIn(data)
        switch frame {
        // A listing's hello carries a prefix, not a stream, and moves no stream's bytes.
        case .hello(let hello) where hello.intent != .list: streamCounters = metrics.streamCounters()
        case .data(_, let bytes):
            streamCounters?.bytes.increment(by: bytes.readableBytes)
            let granted = budget.take(bytes.readableBytes)
            if readGate.received(bytes.readableBytes, granted: granted) == .waitForRoom {
                waitForBudget(context: context)
            }
        default: break
        }
        run(state.frameReceived(frame, at: now), context: context)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        run(state.inboundBatchEnded(), context: context)
        context.fireChannelReadComplete()
    }

    /// The peer certificate's identity, as the TLS handler in front of this one verified it.
    static func tlsPeer(_ context: ChannelHandlerContext) -> CertifiedPeer? {
        // No TLS handler is no peer: the connection is refused at its hello.
        let certificate = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self).peerCertificate
        return certificate.flatMap(PeerIdentity.peer(of:))
    }

    /// The event loop's clock, which an EmbeddedEventLoop lets tests move.
    private static func now(_ context: ChannelHandlerContext) -> Duration {
        .nanoseconds(Int64(context.eventLoop.now.uptimeNanoseconds))
    }

    private func giveBackStreamSlot() {
        if let holder = streamSlotHolder {
            streamSlots.give(for: holder)
            streamSlotHolder = nil
        }
    }

    private func checkClientDeadline(context: ChannelHandlerContext) {
        let limit = state.clientDeadline
        if deadline.hasExpired(at: Self.now(context), deadline: limit) {
            logger.notice("client timed out", metadata: ["after": "\(limit.map { "\($0)" } ?? "")"])
            run(state.clientTimedOut(), context: context)
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        deadline.progressed(at: Self.now(context))
        run(state.writabilityChanged(isWritable: context.channel.isWritable), context: context)
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        run(state.connectionClosed(), context: context)
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ReceiverShutdownEvent {
            run(state.shutdownRequested(), context: context)
        } else if case TLSUserEvent.handshakeCompleted = event {
            let peer = peerOf(context)
            self.identity = peer?.commonName
            onHandshakeCompleted()
            logger.info("sender connected", metadata: ["identity": "\(peer.map { "\($0)" } ?? "none")"])
            run(state.peerIdentified(peer), context: context)
        } else if let change = event as? ReceiverPolicyChange {
            run(state.policyChanged(change.policy), context: context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let frameError = error as? FrameError {
            logger.warning("malformed frame from sender", metadata: ["error": "\(frameError)"])
            run(state.decodingFailed(frameError), context: context)
        } else {
            // TLS failures (unknown CA, truncation) and socket errors: there is no one left to tell.
            logger.notice("replication connection failed", metadata: ["error": "\(error)"])
            context.close(promise: nil)
        }
    }

    /// Asks the shared budget to say when it has room again; the wake-up hops back to this connection's loop.
    private func waitForBudget(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        budget.wait(ObjectIdentifier(self)) {
            eventLoop.execute {
                let (handler, context) = loopBound.value
                if handler.readGate.budgetHasRoom() { context.read() }
            }
        }
    }

    func read(context: ChannelHandlerContext) {
        if readGate.readRequested() { context.read() }
    }

    private func run(_ action: ReceiverAction, context: ChannelHandlerContext) {
        for frame in action.frames {
            if case .error(let error) = frame {
                // Storage failures are logged by the shared StorageCondition (see there).
                if error.code != .storageFailure {
                    logger.notice("refusing sender", metadata: ["code": "\(error.code)", "reason": "\(error.message)"])
                }
                metrics.refused(error.code)
            } else if case .acknowledgement = frame {
                streamCounters?.acknowledgements.increment()
            }
            context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
        }
        if let request = action.receipt {
            pendingReceipts.append(request)
            if pendingReceipts.count == 1 { signNextReceipt(context: context) }
        }
        if action.acceptDataFrames {
            frameLimit.value = ProtocolLimits.maximumBodyLength
        }
        if let operation = action.storage {
            start(operation, context: context)
        }
        if let delay = action.armFlushTimer {
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            flushTimer = context.eventLoop.scheduleTask(in: TimeAmount(delay)) {
                let (handler, context) = loopBound.value
                handler.flushTimer = nil
                handler.run(handler.state.flushTimerFired(), context: context)
            }
        }
        if let change = action.reading, readGate.protocolChanged(change) {
            context.read()
        }
        if action.close {
            context.close(promise: nil)
        }
    }

    /// Signs the oldest pending receipt on the signing pool, and gives the outcome to the state machine back on the
    /// event loop: other connections' frames are served while the key signs.
    private func signNextReceipt(context: ChannelHandlerContext) {
        guard let request = pendingReceipts.first else { return }
        let key = receiptKey
        let appliance = applianceName
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        signingPool.runIfActive(eventLoop: context.eventLoop) {
            try Receipt.signed(
                stream: request.stream.rawValue, durableLength: request.durableLength, head: request.head,
                appliance: appliance, by: key)
        }.whenComplete { result in
            let (handler, context) = loopBound.value
            handler.pendingReceipts.removeFirst()
            switch result {
            case .success(let receipt):
                // The state machine drops it if the connection ended meanwhile.
                handler.run(handler.state.receiptSigned(receipt), context: context)
                // Nobody is left to read the receipts still waiting: their signatures are not made.
                if !context.channel.isActive { handler.pendingReceipts.removeAll() }
                handler.signNextReceipt(context: context)
            case .failure(let error):
                handler.logger.error("cannot sign a receipt", metadata: ["error": "\(error)"])
                // The connection ends with this failure, and the receipts still waiting with it.
                handler.pendingReceipts.removeAll()
                handler.run(handler.state.receiptSigningFailed("\(error)"), context: context)
            }
        }
    }

    private func release(_ bytes: Int) {
        budget.give(readGate.released(bytes))
    }

    private func start(_ operation: StorageOperation, context: ChannelHandlerContext) {
        if case .open = operation {
            // The state machine opens a stream only for an identity it authorised.
            let identity = self.identity ?? ""
            if let refusal = streamSlots.take(for: identity) {
                run(state.openRefused(refusal), context: context)
                return
            }
            streamSlotHolder = identity
        }
        let batchBytes: Int
        if case .append(let buffers, _) = operation {
            batchBytes = buffers.reduce(0) { $0 + $1.readableBytes }
        } else {
            batchBytes = 0
        }
        let session = self.session
        let storage = self.storage
        let allocator = context.channel.allocator
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let storageWork = self.storageWork
        storageWork.begin()
        let pool: NIOThreadPool
        if case .list = operation { pool = listingPool } else { pool = threadPool }
        let result = pool.runIfActive(eventLoop: context.eventLoop) {
            try session.perform(operation, storage: storage, allocator: allocator)
        }
        result.whenComplete { _ in storageWork.end() }
        if case .release = operation {
            // The place is free once the stream is closed and its segment's memory gone, not when the channel is:
            // a closed connection whose append is still running holds its memory until the release that follows.
            result.whenComplete { _ in
                let (handler, _) = loopBound.value
                handler.giveBackStreamSlot()
            }
            return
        }
        // Whether the operation writes (its failure is a write failure), and whether its success shows that writes
        // work: only bytes made durable do, not an open (which only reads) nor bytes left in the appender's buffer.
        let (writes, provesWrites): (Bool, Bool)
        switch operation {
        case .open(_, .append): (writes, provesWrites) = (true, false)
        case .append(_, let flush): (writes, provesWrites) = (true, flush != .none)
        case .open(_, .read), .open(_, .list), .read, .list, .release: (writes, provesWrites) = (false, false)
        }
        result.whenComplete { result in
            let (handler, context) = loopBound.value
            let action: ReceiverAction
            switch result {
            case .success(.opened(let length, let head)):
                action = handler.state.streamOpened(length: length, head: head)
            case .success(.appended(let durableLength, let head)):
                if provesWrites { handler.metrics.storage.appended(logger: handler.logger) }
                handler.release(batchBytes)
                action = handler.state.appendCompleted(durableLength: durableLength, head: head)
            case .success(.read(let bytes)): action = handler.state.readCompleted(bytes)
            case .success(.listed(let page)): action = handler.state.listPageCompleted(page)
            case .success(.released): return
            case .failure(let error):
                let storageError =
                    error as? StreamStorageError
                    ?? StreamStorageError(kind: .io, message: "storage is unavailable: \(error)")
                handler.metrics.storage.failed(storageError, writing: writes, logger: handler.logger)
                action = handler.state.storageFailed(storageError)
            }
            handler.run(action, context: context)
        }
    }
}

/// The stream a connection holds open, touched only on the thread pool.
///
/// `@unchecked Sendable` is sound because ``ReceiverStateMachine`` starts a storage operation only when none is in
/// flight, and each operation is handed to the pool after the previous one's completion was seen on the event
/// loop: the accesses are ordered by those hand-offs and never overlap.
private final class StorageSession: @unchecked Sendable {
    enum Outcome: Sendable {
        case opened(UInt64, ChainHead)
        case appended(UInt64, ChainHead)
        case read(ByteBuffer)
        case listed([StreamSummary])
        case released
    }

    private var appender: (any StreamAppender)?
    private var reader: (any StreamReader)?

    func perform(
        _ operation: StorageOperation, storage: any StreamStorage, allocator: ByteBufferAllocator
    ) throws -> Outcome {
        switch operation {
        case .open(let name, .append):
            let appender = try storage.openAppender(for: name)
            self.appender = appender
            return .opened(appender.durableLength, appender.durableHead)
        case .open(let name, .read):
            let reader = try storage.openReader(for: name)
            self.reader = reader
            return .opened(reader.length, reader.head)
        case .open(_, .list):
            fatalError("open for a listing: a listing opens no stream")
        case .list(let prefix, let readable, let after, let limit):
            return .listed(
                try storage.summaries(after: after, limit: limit) { name in
                    ReceiverStateMachine.listingIncludes(name, prefix: prefix, readable: readable)
                })
        case .append(let buffers, let flush):
            guard let appender else { fatalError("append before the stream was opened for appending") }
            for buffer in buffers {
                try buffer.withUnsafeReadableBytes { bytes in try appender.append(bytes) }
            }
            let durableLength: UInt64
            switch flush {
            case .none: durableLength = appender.durableLength
            case .toBoundary: durableLength = try appender.makeDurableToBoundary()
            case .everything: durableLength = try appender.makeDurable()
            }
            return .appended(durableLength, appender.durableHead)
        case .read(let offset, let count):
            guard let reader else { fatalError("read before the stream was opened for reading") }
            var buffer = allocator.buffer(capacity: count)
            let read = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { target in
                try reader.read(at: offset, into: UnsafeMutableRawBufferPointer(rebasing: target[..<count]))
            }
            guard read > 0 else {
                throw StreamStorageError(kind: .corrupt, message: "stream \(reader.name) ended early at \(offset)")
            }
            return .read(buffer)
        case .release:
            appender?.close()
            reader?.close()
            appender = nil
            reader = nil
            return .released
        }
    }
}
