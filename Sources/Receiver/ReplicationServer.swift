import Authorization
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import Receipts
import ReplicationProtocol
import ReplicationTransport
import ServiceLifecycle
import StreamStore

/// The replication receiver as a service: it listens, accepts senders over mutual TLS 1.3 and stores their streams.
///
/// On graceful shutdown it stops accepting, asks every connection to flush what it has taken and close, and
/// returns once they have (or after ``Configuration/shutdownGracePeriod``). Nothing acknowledged can be lost
/// either way: an acknowledgement is only sent after the bytes are durable.
public final class ReplicationServer: Service {
    /// What the server needs to run.
    public struct Configuration: Sendable {
        /// Where to listen.
        public var host: String
        /// The port to listen on; 0 picks a free one (see ``ReplicationServer/boundAddress``).
        public var port: Int
        /// The receiver's TLS configuration (see ``ReplicationTLS/receiverConfiguration(_:)``).
        public var tls: TLSConfiguration
        /// Per-connection buffering limits.
        public var limits: ReceiverStateMachine.Limits
        /// How long shutdown waits for connections to flush and close.
        public var shutdownGracePeriod: TimeAmount
        /// Which certificate identity may append to and read which streams.
        public var policy: AuthorizationPolicy
        /// Signs the receipts senders ask for (off the event loops: it may block for milliseconds).
        public var receiptKey: any ReceiptSigningKey
        /// The name receipts give the appliance.
        public var applianceName: String
        /// Connections served at once; more are closed as soon as they are accepted.
        public var maximumConnections: Int
        /// The bytes all connections together may hold between reading and flushing them.
        public var budget: ReceiveBudget
        /// Connections still in their TLS handshake: a pool of their own, and a share per source address. They are
        /// cut off ``ReceiverStateMachine/Limits/helloTimeout`` after connecting (the handshake deadline).
        public var handshakePool: HandshakePoolLimits
        /// Streams open at once (for append or a restore), in total and per identity; each pins up to a segment of
        /// memory.
        public var streamSlots: StreamSlots.Limits

        /// Creates a configuration.
        public init(
            host: String, port: Int, tls: TLSConfiguration, policy: AuthorizationPolicy,
            receiptKey: any ReceiptSigningKey, applianceName: String,
            limits: ReceiverStateMachine.Limits = .init(), shutdownGracePeriod: TimeAmount = .seconds(10),
            maximumConnections: Int = 1024, budget: ReceiveBudget = ReceiveBudget(),
            handshakePool: HandshakePoolLimits = HandshakePoolLimits(), streamSlots: StreamSlots.Limits = .init()
        ) {
            self.handshakePool = handshakePool
            self.streamSlots = streamSlots
            self.budget = budget
            self.maximumConnections = maximumConnections
            self.host = host
            self.port = port
            self.tls = tls
            self.policy = policy
            self.receiptKey = receiptKey
            self.applianceName = applianceName
            self.limits = limits
            self.shutdownGracePeriod = shutdownGracePeriod
        }
    }

    private let configuration: Configuration
    private let storage: any StreamStorage
    private let group: any EventLoopGroup
    private let threadPool: NIOThreadPool
    private let logger: Logger
    private let onListening: @Sendable (SocketAddress) async -> Void
    private let metrics: ReplicationMetrics
    private let connections: ConnectionRegistry
    private let streamSlots: SharedStreamSlots
    /// The policy new connections start with; ``reload(policy:)`` replaces it.
    private let currentPolicy: NIOLockedValueBox<AuthorizationPolicy>
    private let storageWork = StorageWork()

    /// Creates the server; nothing happens until ``run()``.
    /// - Parameter onListening: called once the socket is bound, with its address (readiness is reported here).
    public init(
        configuration: Configuration, storage: any StreamStorage, group: any EventLoopGroup,
        threadPool: NIOThreadPool = .singleton, logger: Logger, metrics: ReplicationMetrics = ReplicationMetrics(),
        onListening: @escaping @Sendable (SocketAddress) async -> Void = { _ in }
    ) {
        self.metrics = metrics
        self.configuration = configuration
        self.currentPolicy = NIOLockedValueBox(configuration.policy)
        self.storage = storage
        self.group = group
        self.threadPool = threadPool
        self.logger = logger
        self.onListening = onListening
        connections = ConnectionRegistry(handshakePool: configuration.handshakePool)
        streamSlots = SharedStreamSlots(limits: configuration.streamSlots)
    }

    /// Listens until graceful shutdown, then drains the connections.
    public func run() async throws {
        let sslContext: NIOSSLContext
        do {
            sslContext = try NIOSSLContext(configuration: configuration.tls)
        } catch {
            throw ReplicationError.configuration("the receiver's TLS configuration is unusable: \(error)")
        }
        let storage = self.storage
        let threadPool = self.threadPool
        let limits = configuration.limits
        let currentPolicy = self.currentPolicy
        let receiptKey = configuration.receiptKey
        let applianceName = configuration.applianceName
        let metrics = self.metrics
        let budget = configuration.budget
        let maximumConnections = configuration.maximumConnections
        let logger = self.logger
        let connections = self.connections
        let storageWork = self.storageWork
        let streamSlots = self.streamSlots
        // Listings run on a thread of their own: each page walks every member's streams directory, and a few
        // readers listing a WAL archive of millions of streams must not hold the threads that appends wait for.
        let listingPool = NIOThreadPool(numberOfThreads: 1)
        listingPool.start()
        defer { listingPool.shutdownGracefully { _ in } }
        // Receipts are signed on threads of their own: a signature by the TPM-resident key is a blocking round trip
        // to the keys service, which must hold neither an event loop nor the threads that appends wait for. Two, so
        // that one slow signature does not hold every connection's receipt; the TPM signs one at a time anyway.
        let signingPool = NIOThreadPool(numberOfThreads: 2)
        signingPool.start()
        defer { signingPool.shutdownGracefully { _ in } }
        let serverChannel: any Channel
        do {
            serverChannel = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        guard connections.count < maximumConnections else {
                            logger.warning(
                                "refusing a connection: too many", metadata: ["limit": "\(maximumConnections)"])
                            throw ReplicationError.connection("more than \(maximumConnections) connections")
                        }
                        let now = Duration.nanoseconds(Int64(NIODeadline.now().uptimeNanoseconds))
                        switch connections.admit(channel, at: now) {
                        case .admit, .admitEvicting: break
                        case .refuseAddressFull, .refusePoolFull:
                            // No log line per refusal: a flood would turn into a flood of the journal.
                            throw ReplicationError.connection("too many connections in their TLS handshake")
                        }
                        let frameLimit = NIOLoopBoundBox(
                            ProtocolLimits.maximumControlBodyLength, eventLoop: channel.eventLoop)
                        let handlers: [any ChannelHandler] = [
                            FirstBytesHandler { connections.spoke(channel) },
                            NIOSSLServerHandler(context: sslContext),
                            ByteToMessageHandler(FrameDecoder(limit: frameLimit)),
                            MessageToByteHandler(FrameEncoder()),
                            ReceiverChannelHandler(
                                storage: storage, threadPool: threadPool, listingPool: listingPool, limits: limits,
                                policy: currentPolicy.withLockedValue { $0 },
                                receiptKey: receiptKey, applianceName: applianceName, signingPool: signingPool,
                                metrics: metrics,
                                budget: budget, storageWork: storageWork, streamSlots: streamSlots,
                                frameLimit: frameLimit,
                                onHandshakeCompleted: { connections.handshakeCompleted(channel) },
                                logger: logger.withConnection(channel)),
                        ]
                        try channel.pipeline.syncOperations.addHandlers(handlers)
                    }
                }
                .bind(host: configuration.host, port: configuration.port)
                .get()
        } catch {
            throw ReplicationError.configuration(
                "cannot listen on \(configuration.host):\(configuration.port): \(error)")
        }
        guard let address = serverChannel.localAddress else {
            fatalError("a bound TCP socket always has a local address")
        }
        logger.info("replication receiver listening", metadata: ["address": "\(address)"])
        await onListening(address)

        // Wait for shutdown; cancellation (the group ending abruptly) also ends the wait.
        try? await gracefulShutdown()

        logger.info("replication receiver shutting down", metadata: ["connections": "\(connections.count)"])
        try? await serverChannel.close()
        await connections.drain(within: configuration.shutdownGracePeriod, on: group.next())
        if !(await storageWork.idle(within: configuration.shutdownGracePeriod, on: group.next())) {
            logger.warning(
                "stopping with storage operations still running",
                metadata: ["waited": "\(configuration.shutdownGracePeriod)"])
        }
        logger.info("replication receiver stopped")
    }
}

extension ReplicationServer {
    /// Replaces the authorization policy and its deny list (on `systemctl reload`) without dropping a sender:
    /// new connections and every later hello are decided by `policy`, and open connections whose certificate it
    /// revokes are closed now.
    public func reload(policy: AuthorizationPolicy) {
        currentPolicy.withLockedValue { $0 = policy }
        connections.broadcast(ReceiverPolicyChange(policy: policy))
        logger.notice(
            "authorization policy reloaded",
            metadata: [
                "grants": "\(policy.grants.count)",
                "revoked": "\(policy.revoked.serialNumbers.count + policy.revoked.publicKeys.count)",
            ])
    }
}

extension Logger {
    fileprivate func withConnection(_ channel: any Channel) -> Logger {
        var logger = self
        logger[metadataKey: "peer"] = "\(channel.remoteAddress.map { "\($0)" } ?? "unknown")"
        return logger
    }
}
