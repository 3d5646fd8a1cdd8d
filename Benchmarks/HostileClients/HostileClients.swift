import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import ReplicationProtocol

/// Plain TCP connections that never start a TLS handshake, held open: each one the receiver closes is opened again
/// after a pause, as a persistent attacker would, until ``stop()``.
public final class IdleConnectionFlood: Sendable {
    /// `count` loopback source addresses, 127.0.1.1 onwards: enough addresses that each holds fewer connections than
    /// the appliance lets one address hold, so that it is the handshake pool, not the per-address cap, that the
    /// flood meets.
    public static func sources(_ count: Int) -> [String] {
        (0..<count).map { "127.0.\(1 + $0 / 250).\(1 + $0 % 250)" }
    }

    private struct State {
        var stopped = false
        var open: [ObjectIdentifier: any Channel] = [:]
        var connects = 0
    }

    private let state = NIOLockedValueBox(State())
    private let host: String
    private let port: Int
    private let reopenAfter: TimeAmount
    private let group: any EventLoopGroup

    /// Opens `count` connections to `host:port`, from the source addresses `sources` in turn (any address of
    /// 127.0.0.0/8 is this machine's), each opened again `reopenAfter` after the receiver closed it.
    public init(
        host: String, port: Int, sources: [String], count: Int, reopenAfter: TimeAmount = .seconds(1),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        precondition(!sources.isEmpty)
        self.host = host
        self.port = port
        self.reopenAfter = reopenAfter
        self.group = group
        for index in 0..<count { open(from: sources[index % sources.count]) }
    }

    /// Connections open now (from this side).
    public var openCount: Int { state.withLockedValue { $0.open.count } }

    /// Connections made so far.
    public var connects: Int { state.withLockedValue { $0.connects } }

    private func open(from source: String) {
        guard !state.withLockedValue({ $0.stopped }) else { return }
        let bootstrap: ClientBootstrap
        do {
            bootstrap = ClientBootstrap(group: group).bind(to: try SocketAddress(ipAddress: source, port: 0))
        } catch {
            preconditionFailure("\(source) is not an IP address")
        }
        bootstrap.connect(host: host, port: port).whenComplete { [self] result in
            switch result {
            case .success(let channel):
                let id = ObjectIdentifier(channel)
                let stopped = state.withLockedValue { state in
                    state.connects += 1
                    if !state.stopped { state.open[id] = channel }
                    return state.stopped
                }
                if stopped {
                    channel.close(promise: nil)
                    return
                }
                channel.closeFuture.whenComplete { [self] _ in
                    state.withLockedValue { _ = $0.open.removeValue(forKey: id) }
                    reopen(from: source)
                }
            case .failure:
                reopen(from: source)
            }
        }
    }

    private func reopen(from source: String) {
        group.next().scheduleTask(in: reopenAfter) { [self] in open(from: source) }
    }

    /// Stops opening connections and closes those open.
    public func stop() async {
        let open = state.withLockedValue { state in
            state.stopped = true
            return Array(state.open.values)
        }
        for channel in open { try? await channel.close() }
    }
}

/// What a ``HostileConnection`` does once the receiver has answered its hello with ready.
public enum HostilePlan: Sendable {
    /// Stops reading, then sends syncs (and a receipt request every `receiptEvery`, if given) as fast as the
    /// receiver takes them, for `duration`.
    case syncFlood(duration: TimeAmount, receiptEvery: TimeAmount?)
    /// Stops reading, then sends receipt requests as fast as the receiver takes them, for `duration`.
    case receiptFlood(duration: TimeAmount)
    /// Sends `bytes` of data (reading what comes back) without a sync, then holds the connection open.
    case hold(bytes: Int)
}

/// One TLS connection that says hello (append) and then follows a ``HostilePlan``.
public struct HostileConnection: Sendable {
    /// The connection.
    public let channel: any Channel
    /// The receiver's first frame: ready, or the error frame of its refusal.
    public let firstFrame: EventLoopFuture<Frame>
    /// The plan is done (the connection stays open), or the connection closed first.
    public let finished: EventLoopFuture<Void>

    /// Connects over TLS to `host:port` (from `source`, when given), says hello to append to `stream`, then follows
    /// `plan`.
    public static func connect(
        host: String, port: Int, tls: TLSConfiguration, stream: String, plan: HostilePlan, source: String? = nil,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> HostileConnection {
        let context = try NIOSSLContext(configuration: tls)
        let eventLoop = group.next()
        let firstFrame = eventLoop.makePromise(of: Frame.self)
        let finished = eventLoop.makePromise(of: Void.self)
        var bootstrap = ClientBootstrap(group: eventLoop)
        if let source { bootstrap = bootstrap.bind(to: try SocketAddress(ipAddress: source, port: 0)) }
        let channel =
            try await bootstrap
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        try NIOSSLClientHandler(context: context, serverHostname: nil),
                        HostileHandler(stream: stream, plan: plan, firstFrame: firstFrame, finished: finished),
                    ])
                }
            }
            .connect(host: host, port: port).get()
        return HostileConnection(channel: channel, firstFrame: firstFrame.futureResult, finished: finished.futureResult)
    }
}

private final class HostileHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let stream: String
    private let plan: HostilePlan
    private let firstFrame: EventLoopPromise<Frame>
    private let finished: EventLoopPromise<Void>
    private var received = ByteBuffer()
    private var answered = false
    private var done = false
    private var reading = true
    private var started = false
    private var end = NIODeadline.distantFuture
    private var nextReceipt = NIODeadline.distantFuture
    private var sent = 0
    private var pumpScheduled = false

    init(stream: String, plan: HostilePlan, firstFrame: EventLoopPromise<Frame>, finished: EventLoopPromise<Void>) {
        self.stream = stream
        self.plan = plan
        self.firstFrame = firstFrame
        self.finished = finished
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event {
            var hello = ByteBuffer()
            hello.writeFrame(.hello(Hello(intent: .append, stream: stream)))
            context.writeAndFlush(wrapOutboundOut(hello), promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        received.writeBuffer(&bytes)
        while let frame = try? FrameParser().parse(&received) {
            guard !answered else { continue }
            answered = true
            firstFrame.succeed(frame)
            if case .ready = frame { start(context: context) }
        }
    }

    func read(context: ChannelHandlerContext) {
        if reading { context.read() }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        schedulePump(context: context)
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !answered { firstFrame.fail(ChannelError.ioOnClosedChannel) }
        finish()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func finish() {
        guard !done else { return }
        done = true
        finished.succeed(())
    }

    private func start(context: ChannelHandlerContext) {
        started = true
        switch plan {
        case .syncFlood(let duration, let receiptEvery):
            reading = false
            end = .now() + duration
            if let receiptEvery { nextReceipt = .now() + receiptEvery }
        case .receiptFlood(let duration):
            reading = false
            end = .now() + duration
        case .hold:
            break
        }
        if end != .distantFuture {
            // The end comes whether or not the receiver lets this side write any more.
            let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(deadline: end) { loopBound.value.finish() }
        }
        schedulePump(context: context)
    }

    /// One batch per event-loop turn, so that a receiver that keeps reading does not keep this loop to itself.
    private func schedulePump(context: ChannelHandlerContext) {
        guard started, !done, !pumpScheduled else { return }
        pumpScheduled = true
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.eventLoop.execute {
            let (handler, context) = loopBound.value
            handler.pumpScheduled = false
            handler.pump(context: context)
        }
    }

    private func pump(context: ChannelHandlerContext) {
        guard !done, context.channel.isActive, context.channel.isWritable else { return }
        var batch = ByteBuffer()
        switch plan {
        case .syncFlood(_, let receiptEvery):
            guard NIODeadline.now() < end else { return finish() }
            for _ in 0..<1000 { batch.writeFrame(.sync) }
            if let receiptEvery, NIODeadline.now() >= nextReceipt {
                batch.writeFrame(.receiptRequest)
                nextReceipt = .now() + receiptEvery
            }
        case .receiptFlood:
            guard NIODeadline.now() < end else { return finish() }
            for _ in 0..<1000 { batch.writeFrame(.receiptRequest) }
        case .hold(let bytes):
            guard sent < bytes else { return finish() }
            let count = min(ProtocolLimits.maximumDataBytes, bytes - sent)
            batch.writeFrame(.data(offset: UInt64(sent), bytes: ByteBuffer(repeating: 0x5a, count: count)))
            sent += count
        }
        context.writeAndFlush(wrapOutboundOut(batch), promise: nil)
        schedulePump(context: context)
    }
}

/// This process's resident memory now and at its peak, from /proc (or another process's, by its id).
public enum ResidentMemory {
    /// VmRSS and VmHWM of `pid` ("self" for this process), in bytes; nil when /proc has no such process.
    public static func sample(pid: String = "self") -> (current: Int, peak: Int)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        func field(_ name: String) -> Int? {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return nil }
            return line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first.flatMap { Int($0) }.map {
                $0 * 1024
            }
        }
        guard let current = field("VmRSS"), let peak = field("VmHWM") else { return nil }
        return (current, peak)
    }
}
