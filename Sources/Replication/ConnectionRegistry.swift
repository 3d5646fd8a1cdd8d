import NIOConcurrencyHelpers
import NIOCore

/// The open connections of a server, so that shutdown can ask each to finish and wait for it.
final class ConnectionRegistry: Sendable {
    private let channels = NIOLockedValueBox<[ObjectIdentifier: any Channel]>([:])

    var count: Int { channels.withLockedValue { $0.count } }

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
