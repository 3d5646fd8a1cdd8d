import CustodyLog
import LocalControl
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import SystemPackage

/// `saatkond keys` (and the keys part of `saatkond dev`): holds the unsealed keys, answers the keys socket, and
/// watches the chassis-intrusion switch, zeroizing when it opens.
public final class KeysService: Service, Sendable {
    /// The keys and the state.
    public let holder: KeyHolder
    private let files: KeysStateFiles
    private let server: LocalControlServer?
    private let intrusion: IntrusionSensor?
    private let intrusionPoll: Duration
    private let audit: AuditTrail
    private let logger: Logger

    /// A service over `vault` with the state in `files`; the socket is served when `socket` is given.
    public init(
        files: KeysStateFiles, vault: any KeyVault, socket: Socket?, intrusion: IntrusionSensor?,
        decommission: DecommissionPolicy?, intrusionPoll: Duration = .seconds(1), logger: Logger
    ) throws {
        let log = try CustodyLog(path: files.auditLog)
        audit = AuditTrail(log: log, logger: logger)
        holder = KeyHolder(files: files, vault: vault, audit: audit, logger: logger)
        self.files = files
        self.intrusion = intrusion
        self.intrusionPoll = intrusionPoll
        self.logger = logger
        let requests = KeysRequests(holder: holder, files: files, decommission: decommission, logger: logger)
        server = socket.map { socket in
            LocalControlServer(
                path: socket.path, mode: 0o660, group: socket.group, access: socket.access,
                group: MultiThreadedEventLoopGroup.singleton, operations: Set(KeysOperation.allCases.map(\.rawValue)),
                maximumConnections: 64,
                onRefusal: { request in
                    logger.warning(
                        "keys socket: refused", metadata: ["op": "\(request.op)", "uid": "\(request.peer.uid)"])
                },
                replying: { await requests.answer($0) })
        }
    }

    /// Where and for whom the socket is served.
    public struct Socket: Sendable {
        public var path: String
        public var group: UInt32?
        public var access: LocalAccess

        public init(path: String, group: UInt32?, access: LocalAccess) {
            self.path = path
            self.group = group
            self.access = access
        }

        /// A socket on which `uid` (and root) may ask everything: `saatkond dev`, where every part runs as one user.
        public static func onlyFor(uid: UInt32, path: String) -> Socket {
            Socket(
                path: path, group: nil,
                access: LocalAccess(
                    rules: Dictionary(uniqueKeysWithValues: KeysOperation.allCases.map { ($0.rawValue, [uid]) })))
        }

        /// The socket a configuration names, with its access rules.
        public init(_ configuration: KeysConfiguration) {
            self.init(
                path: configuration.socket, group: configuration.socketGroup, access: KeysAccess.rules(configuration))
        }
    }

    public func run() async throws {
        try await server?.start()
        logger.info("keys service ready", metadata: ["state": "\(holder.state)", "socket": "\(server?.path ?? "-")"])
        await withGracefulShutdownHandler {
            await watchIntrusion()
        } onGracefulShutdown: {
        }
        try? await server?.stop()
        audit.close()
    }

    /// Zeroizes the keys now (an intrusion, a verified order, or a test).
    public func zeroize(reason: String) throws {
        try holder.zeroize(reason: reason, files: files)
    }

    private func watchIntrusion() async {
        var lastUnreadable: String?
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            if let intrusion {
                switch intrusion.read() {
                case .opened:
                    if case .zeroized = holder.state { break }
                    do {
                        try zeroize(reason: "the chassis was opened (\(intrusion.path))")
                    } catch {
                        logger.critical("zeroization failed", metadata: ["error": "\(error)"])
                    }
                case .closed:
                    lastUnreadable = nil
                case .unreadable(let why):
                    if lastUnreadable != why {
                        logger.error("the chassis-intrusion switch cannot be read", metadata: ["reason": "\(why)"])
                        audit.record("intrusion-sensor-unreadable", ["reason": why])
                        lastUnreadable = why
                    }
                }
            }
            try? await Task.sleep(for: intrusionPoll)
        }
    }
}
