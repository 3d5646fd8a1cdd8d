import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A request/response server on a Unix socket for the appliance's local state sockets (`/run/saatkond/disks.sock`,
/// the keys service's next), on SwiftNIO. The protocol (docs/local-control.md): one request per connection, one JSON
/// object on one line (`{"op": "...", ...}`, ended by a newline or by the client shutting down its side), answered by
/// one JSON object on one line, then the server closes. Every request is checked against the peer's credentials from
/// the kernel (SO_PEERCRED) and ``LocalAccess``.
///
/// A request longer than 64 KiB, malformed JSON, a missing or unknown `op` get `{"error": "..."}`; a refused one gets
/// `{"error": "...", "refused": true}` naming the op and the uid, and is reported to `onRefusal` for the service to
/// log. At most `maximumConnections` are served at once (one more gets `{"error": ..., "busy": true}` and is closed);
/// a client that has not sent its whole request within `requestTimeout` gets an error and is closed, so a stuck
/// client cannot pin the service.
///
/// The socket file is created with `mode` and `group`; a stale one at the path (no server answers on it) is replaced,
/// a live one is not (``start()`` fails: another server runs); ``stop()`` removes it.
public final class LocalControlServer: Sendable {
    /// What a connection's handlers need, shared by all of them.
    struct Configuration: Sendable {
        let access: LocalAccess
        let operations: Set<String>
        let maximumRequestBytes: Int
        let requestTimeout: TimeAmount
        let onRefusal: (@Sendable (LocalRequest) -> Void)?
        let handler: @Sendable (LocalRequest) async -> LocalReply
    }

    /// The socket's path.
    public let path: String
    private let mode: mode_t
    private let socketGroup: gid_t?
    private let eventLoopGroup: any EventLoopGroup
    private let maximumConnections: Int
    private let configuration: Configuration
    private let serverChannel = Mutex<(any Channel)?>(nil)
    private let connections = ConnectionCount()

    /// The longest request: 64 KiB, without its newline.
    public static let maximumRequestBytes = 64 * 1024

    /// A server on `path` whose socket file gets `mode` (e.g. 0o660) and, when given, the group `group` (e.g.
    /// saatkond's), that lets the peers `access` allows ask the operations `operations` (by default those `access`
    /// names), and answers each with `handler`'s response. `onRefusal` is told of every refused request.
    public convenience init(
        path: String, mode: mode_t, group socketGroup: gid_t?, access: LocalAccess,
        group eventLoopGroup: any EventLoopGroup, operations: Set<String>? = nil, maximumConnections: Int = 16,
        requestTimeout: TimeAmount = .seconds(10), onRefusal: (@Sendable (LocalRequest) -> Void)? = nil,
        handler: @escaping @Sendable (LocalRequest) async -> [String: JSONValue]
    ) {
        self.init(
            path: path, mode: mode, group: socketGroup, access: access, group: eventLoopGroup, operations: operations,
            maximumConnections: maximumConnections, requestTimeout: requestTimeout, onRefusal: onRefusal,
            replying: { LocalReply(await handler($0)) })
    }

    /// A server like the one above whose answers may carry a secret after their JSON line (``LocalReply``).
    public init(
        path: String, mode: mode_t, group socketGroup: gid_t?, access: LocalAccess,
        group eventLoopGroup: any EventLoopGroup, operations: Set<String>? = nil, maximumConnections: Int = 16,
        requestTimeout: TimeAmount = .seconds(10), onRefusal: (@Sendable (LocalRequest) -> Void)? = nil,
        replying handler: @escaping @Sendable (LocalRequest) async -> LocalReply
    ) {
        self.path = path
        self.mode = mode
        self.socketGroup = socketGroup
        self.eventLoopGroup = eventLoopGroup
        self.maximumConnections = maximumConnections
        configuration = Configuration(
            access: access, operations: operations ?? access.operations, maximumRequestBytes: Self.maximumRequestBytes,
            requestTimeout: requestTimeout, onRefusal: onRefusal, handler: handler)
    }

    /// Replaces a stale socket file, binds and listens, and sets the file's mode and group. Throws when another
    /// server answers on the path, or when something other than a socket is there.
    public func start() async throws {
        try SocketFile.clearStale(at: path)
        let configuration = configuration
        let maximum = maximumConnections
        let connections = connections
        let channel = try await ServerBootstrap(group: eventLoopGroup)
            .serverChannelOption(.backlog, value: 64)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard connections.admit(maximum: maximum) else {
                        try channel.pipeline.syncOperations.addHandler(RefusingHandler(maximum: maximum))
                        return
                    }
                    channel.closeFuture.whenComplete { _ in connections.release() }
                    try channel.pipeline.syncOperations.addHandlers(
                        ByteToMessageHandler(RequestLineDecoder(maximumLength: configuration.maximumRequestBytes)),
                        RequestHandler(configuration: configuration))
                }
            }
            .bind(unixDomainSocketPath: path).get()
        do {
            try SocketFile.setPermissions(of: path, mode: mode, group: socketGroup)
        } catch {
            try? await channel.close()
            SocketFile.remove(path)
            throw error
        }
        serverChannel.withLock { $0 = channel }
    }

    /// Stops accepting connections and removes the socket file; requests being served finish on their own.
    public func stop() async throws {
        let channel = serverChannel.withLock { channel in
            defer { channel = nil }
            return channel
        }
        guard let channel else { return }
        do {
            try await channel.close()
        } catch ChannelError.alreadyClosed {}
        SocketFile.remove(path)
    }

    /// How many connections are being served now.
    public var activeConnections: Int {
        connections.count
    }
}

/// The number of connections being served, shared by the server and its connections' close callbacks.
final class ConnectionCount: Sendable {
    private let value = Mutex(0)

    var count: Int { value.withLock { $0 } }

    /// Counts one more connection, unless `maximum` are served already.
    func admit(maximum: Int) -> Bool {
        value.withLock { count in
            guard count < maximum else { return false }
            count += 1
            return true
        }
    }

    func release() {
        value.withLock { $0 -= 1 }
    }
}
