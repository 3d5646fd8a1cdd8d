import DevelopmentIdentity
import Logging
import NIOCore
import NIOPosix
import Receipts
import Receiver
import ReplicationTransport
import ServiceLifecycle
import StreamStore
import Systemd
import Watchdog

/// `saatkond dev`: the appliance's services together in one process, on development defaults.
///
/// State lives in a ``StateDirectory``; on first start the development identity is created there. The services
/// run in one ServiceGroup: the watchdog first, so that it stops last; SIGTERM and SIGINT shut down gracefully.
public struct DevelopmentAppliance: Sendable {
    /// What to run.
    public struct Configuration: Sendable {
        /// The state directory.
        public var state: StateDirectory
        /// The replication listener's host.
        public var host: String
        /// The replication listener's port; 0 picks a free one.
        public var port: Int

        /// Creates a configuration.
        public init(state: StateDirectory, host: String = "127.0.0.1", port: Int = 7443) {
            self.state = state
            self.host = host
            self.port = port
        }
    }

    private let configuration: Configuration
    private let logger: Logger

    /// Creates the appliance.
    public init(configuration: Configuration, logger: Logger = Logger(label: "saatkond.dev")) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Runs until SIGTERM or SIGINT (or cancellation). `onListening` receives the bound address, for the
    /// instructions printed to the developer.
    public func run(onListening: @escaping @Sendable (SocketAddress) -> Void = { _ in }) async throws {
        ProcessHeap.bound()
        ProcessSecrets.protect(logger: logger)
        let identity = try DevelopmentIdentity.loadOrCreate(in: configuration.state.identity.directory)
        let storage = try DevelopmentStorage.openOrCreate(configuration.state)
        let tls = try ReplicationTLS.receiverConfiguration(
            TLSIdentityFiles(
                certificate: identity.applianceCertificate.string, privateKey: identity.applianceKey.string,
                trustedAuthorities: identity.authorityCertificate.string))
        let group = MultiThreadedEventLoopGroup.singleton
        let logger = self.logger
        let policyFiles = try DevelopmentPolicy.createIfMissing(
            configuration.state, trustedAuthorities: identity.authorityCertificate)
        let policy = try policyFiles.load()
        let signer = ReceiptSigner(
            key: try DevelopmentStorage.loadOrCreateSigningKey(configuration.state), appliance: "saatkond-dev")
        let server = ReplicationServer(
            configuration: .init(
                host: configuration.host, port: configuration.port, tls: tls, policy: policy, signer: signer),
            storage: storage, group: group, logger: logger
        ) { address in
            do {
                _ = try ServiceManager.notify("READY=1\nSTATUS=receiving replication on \(address)")
            } catch {
                logger.error("cannot notify systemd", metadata: ["error": "\(error)"])
            }
            onListening(address)
        }
        let watchdog = try WatchdogService(checks: [EventLoopLivenessCheck(group: group)], logger: logger)
        let reloader = PolicyReloader(files: policyFiles, server: server, logger: logger)
        let services = ServiceGroup(
            configuration: .init(
                services: [.init(service: watchdog), .init(service: reloader), .init(service: server)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await services.run()
        _ = try? ServiceManager.notify("STOPPING=1\nSTATUS=stopped")
    }
}
