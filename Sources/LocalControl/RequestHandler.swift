import NIOCore

#if canImport(Glibc)
    import Glibc
#endif

/// Serves one connection's one request: reads the peer's credentials when it connects, checks the request (a JSON
/// object with a known `op` that the peer's uid may ask), runs the service's handler, writes the response line and
/// closes. Every failure is an error response, then the close; a request that does not arrive in time gets one too.
final class RequestHandler: ChannelInboundHandler {
    typealias InboundIn = RequestFrame

    private let configuration: LocalControlServer.Configuration
    private var peer: PeerCredentials?
    private var answered = false
    private var deadline: Scheduled<Void>?

    init(configuration: LocalControlServer.Configuration) {
        self.configuration = configuration
    }

    func channelActive(context: ChannelHandlerContext) {
        readPeerCredentials(context: context)
        let channel = context.channel
        let timeout = configuration.requestTimeout
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        deadline = context.eventLoop.scheduleTask(in: timeout) {
            let handler = loopBound.value
            guard !handler.answered else { return }
            handler.answer(
                ["error": .string("no complete request within \(timeout.nanoseconds / 1_000_000) ms")], on: channel)
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        context.fireChannelInactive()
    }

    /// SO_PEERCRED: the pid, uid and gid the client had when it connected, from the kernel.
    private func readPeerCredentials(context: ChannelHandlerContext) {
        guard let provider = context.channel as? any SocketOptionProvider else { return }
        let future: EventLoopFuture<KernelPeerCredentials> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
        future.assumeIsolated().whenSuccess { credentials in
            self.peer = PeerCredentials(pid: credentials.pid, uid: credentials.uid, gid: credentials.gid)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answered else { return }
        let channel = context.channel
        switch unwrapInboundIn(data) {
        case .tooLong:
            answer(["error": .string("request longer than \(configuration.maximumRequestBytes) bytes")], on: channel)
        case .line(let line):
            switch check(line) {
            case .respond(let response):
                answer(response, on: channel)
            case .run(let request):
                answered = true
                deadline?.cancel()
                let handler = configuration.handler
                context.eventLoop.makeFutureWithTask { await handler(request) }.whenComplete { result in
                    switch result {
                    case .success(let reply): Self.write(reply, on: channel)
                    case .failure: Self.write(["error": "the request was cancelled"], on: channel)
                    }
                }
            }
        }
    }

    private enum Check {
        case respond([String: JSONValue])
        case run(LocalRequest)
    }

    private func check(_ line: ByteBuffer) -> Check {
        guard var object = JSONLine.decode(line.readableBytesView) else {
            return .respond(["error": "malformed request: not one JSON object on one line"])
        }
        guard case .string(let op)? = object.removeValue(forKey: "op") else {
            return .respond(["error": "malformed request: no \"op\" string"])
        }
        guard configuration.operations.contains(op) else {
            return .respond(["error": .string("unknown op \(Self.quoted(op))")])
        }
        guard let peer else {
            return .respond(["error": "the peer's credentials are unknown", "refused": true])
        }
        let request = LocalRequest(op: op, body: object, peer: peer)
        guard configuration.access.allows(op, uid: peer.uid) else {
            configuration.onRefusal?(request)
            return .respond([
                "error": .string("op \(Self.quoted(op)) is not allowed for uid \(peer.uid)"), "refused": true,
            ])
        }
        return .run(request)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // The client shut down its side; the decoder has passed on whatever request it had. Without one, it is done.
        if case ChannelEvent.inputClosed = event, !answered {
            answered = true
            deadline?.cancel()
            context.close(promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func answer(_ response: [String: JSONValue], on channel: any Channel) {
        answered = true
        deadline?.cancel()
        Self.write(response, on: channel)
    }

    private static func write(_ response: [String: JSONValue], on channel: any Channel) {
        write(LocalReply(response), on: channel)
    }

    /// Writes the answer line, then the reply's secret, if any, raw; once written, the buffer's bytes are overwritten
    /// in place (through a pointer: a mutating call would copy the shared storage and wipe the copy).
    private static func write(_ reply: LocalReply, on channel: any Channel) {
        var fields = reply.fields
        if let secret = reply.secret { fields["secret-bytes"] = .integer(Int64(secret.count)) }
        let line = JSONLine.encode(fields)
        var filling = channel.allocator.buffer(capacity: line.count + (reply.secret?.count ?? 0))
        filling.writeBytes(line)
        if let secret = reply.secret {
            secret.withUnsafeBytes { _ = filling.writeBytes($0) }
        }
        let buffer = filling
        channel.writeAndFlush(buffer).whenComplete { _ in
            if reply.secret != nil {
                _ = buffer.withUnsafeReadableBytes {
                    UnsafeMutableRawBufferPointer(mutating: $0).initializeMemory(as: UInt8.self, repeating: 0)
                }
            }
            channel.close(promise: nil)
        }
    }

    /// An op as an error message shows it: escaped and cut, since it is whatever the client sent.
    static func quoted(_ op: String) -> String {
        (op.count > 64 ? String(op.prefix(64)) + "…" : op).debugDescription
    }
}

/// `struct ucred` of <sys/socket.h> (which Swift sees only with _GNU_SOURCE): what SO_PEERCRED fills in.
struct KernelPeerCredentials: Sendable {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}

/// Answers a connection beyond the bound with an error and closes it, without reading it.
final class RefusingHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let maximum: Int

    init(maximum: Int) {
        self.maximum = maximum
    }

    func channelActive(context: ChannelHandlerContext) {
        let channel = context.channel
        let response: [String: JSONValue] = [
            "error": .string("too many connections (at most \(maximum)); try again"), "busy": true,
        ]
        channel.writeAndFlush(channel.allocator.buffer(bytes: JSONLine.encode(response))).whenComplete { _ in
            channel.close(promise: nil)
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
