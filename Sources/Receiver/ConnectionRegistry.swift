import NIOConcurrencyHelpers
import NIOCore
import ReplicationProtocol

/// The open connections of a server, so that shutdown can ask each to finish and wait for it.
final class ConnectionRegistry: Sendable {
    private let channels = NIOLockedValueBox<[ObjectIdentifier: any Channel]>([:])

    private let handshakes: NIOLockedValueBox<HandshakePool<ObjectIdentifier>>

    init(handshakePool: HandshakePoolLimits = HandshakePoolLimits()) {
        handshakes = NIOLockedValueBox(HandshakePool(limits: handshakePool))
    }

    var count: Int { channels.withLockedValue { $0.count } }

    /// Connections still in their TLS handshake.
    var handshaking: Int { handshakes.withLockedValue { $0.count } }

    /// Decides whether a connection just accepted may start its handshake (``HandshakePool``); when it may, adds
    /// it and closes the connection whose place it takes, if any.
    func admit(_ channel: any Channel, at now: Duration) -> HandshakePool<ObjectIdentifier>.Decision {
        let id = ObjectIdentifier(channel)
        let address = channel.remoteAddress?.ipAddress ?? "unknown"
        let decision = handshakes.withLockedValue { $0.accepted(id, from: address, at: now) }
        switch decision {
        case .admit, .admitEvicting:
            add(channel)
            channel.closeFuture.whenComplete { [self] _ in
                handshakes.withLockedValue { $0.closed(id) }
            }
            if case .admitEvicting(let evicted) = decision {
                channels.withLockedValue { $0[evicted] }?.close(promise: nil)
            }
        case .refuseAddressFull, .refusePoolFull:
            break
        }
        return decision
    }

    /// The connection sent its first bytes: its handshake has begun (``HandshakePool/spoke(_:)``).
    func spoke(_ channel: any Channel) {
        handshakes.withLockedValue { $0.spoke(ObjectIdentifier(channel)) }
    }

    /// The connection's handshake completed: its place in the handshake pool is free.
    func handshakeCompleted(_ channel: any Channel) {
        handshakes.withLockedValue { $0.handshakeCompleted(ObjectIdentifier(channel)) }
    }

    func add(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        channels.withLockedValue { $0[id] = channel }
        channel.closeFuture.whenComplete { [self] _ in
            _ = channels.withLockedValue { $0.removeValue(forKey: id) }
        }
    }

    /// Sends `event` down every open connection's pipeline, on its own event loop.
    func broadcast(_ event: some Sendable) {
        for channel in channels.withLockedValue({ Array($0.values) }) {
            channel.pipeline.fireUserInboundEventTriggered(event)
        }
    }

    /// Asks every connection to finish and close; closes those still open after `period`.
    func drain(within period: TimeAmount, on eventLoop: any EventLoop) async {
        let open = channels.withLockedValue { Array($0.values) }
        for channel in open {
            channel.pipeline.fireUserInboundEventTriggered(ReceiverShutdownEvent())
        }
        let closed = EventLoopFuture.andAllComplete(open.map(\.closeFuture), on: eventLoop)
        let deadline = eventLoop.scheduleTask(in: period) {
            for channel in open { channel.close(promise: nil) }
        }
        try? await closed.get()
        deadline.cancel()
    }
}

/// Tells the handshake pool when a connection sends its first bytes, then leaves the pipeline: it sits in front of
/// the TLS handler, and every later read goes straight to that.
final class FirstBytesHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let onFirstBytes: () -> Void

    init(onFirstBytes: @escaping () -> Void) {
        self.onFirstBytes = onFirstBytes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        onFirstBytes()
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
