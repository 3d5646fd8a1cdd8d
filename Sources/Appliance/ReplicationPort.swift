import Authorization
import ErasureStore
import Logging
import NIOCore
import NIOPosix
import Receipts
import Receiver
import ReplicationProtocol
import ReplicationTransport
import ServiceLifecycle
import StoreFormat
import SystemPackage
import Systemd
import Watchdog

/// What `saatkond ingest` and `saatkond reader` run alike: a replication server over mutual TLS on the array, with
/// the watchdog, the policy reloaded on SIGHUP, and readiness told to systemd, until SIGTERM or SIGINT.
struct ReplicationPort {
    var host: String
    var port: Int
    var identity: TLSIdentityFiles
    var policyFiles: PolicyFiles
    var receiptKey: any ReceiptSigningKey
    var applianceName: String
    var limits = ReceiverStateMachine.Limits()
    /// What systemd's status says the port does, before "on ADDRESS".
    var serving: String

    /// The policy, read before anything else starts so that a mistake in it stops the service at once.
    static func loadPolicy(_ files: PolicyFiles) throws -> AuthorizationPolicy {
        do {
            return try files.load()
        } catch let error as PolicyError {
            throw ConfigurationError(error.description)
        }
    }

    /// The array: every directory under `memberRoot` (as the disks service mounts them), or the `members` given.
    static func openStore(memberRoot: String?, members: [String], keys: StorageKeys) throws -> ErasureCodedStore {
        try memberRoot.map { try ErasureCodedStore(memberRoot: FilePath($0), keys: keys) }
            ?? ErasureCodedStore(members: members.map { FilePath($0) }, keys: keys)
    }

    func run(
        policy: AuthorizationPolicy, storage: ErasureCodedStore, logger: Logger,
        onListening: @escaping @Sendable (SocketAddress) -> Void, alongside: [any Service] = [],
        checks: [any LivenessCheck] = [], history: WatchdogHistory? = nil,
        metrics: ReplicationMetrics = ReplicationMetrics()
    ) async throws {
        if !storage.assembly.isComplete {
            logger.warning("the array is not complete", metadata: ["assembly": "\(storage.assembly)"])
        }
        let tls = try ReplicationTLS.receiverConfiguration(identity)
        let group = MultiThreadedEventLoopGroup.singleton
        let serving = self.serving
        let server = ReplicationServer(
            configuration: .init(
                host: host, port: port, tls: tls, policy: policy, receiptKey: receiptKey,
                applianceName: applianceName, limits: limits),
            storage: storage, group: group, logger: logger, metrics: metrics
        ) { address in
            _ = try? ServiceManager.notify("READY=1\nSTATUS=\(serving) on \(address)")
            onListening(address)
        }
        let watchdog = try WatchdogService(
            checks: [EventLoopLivenessCheck(group: group)] + checks, logger: logger, history: history)
        let reloader = PolicyReloader(files: policyFiles, server: server, logger: logger)
        try await ServiceGroup(
            configuration: .init(
                services: [.init(service: watchdog), .init(service: reloader), .init(service: server)]
                    + alongside.map { .init(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        ).run()
        _ = try? ServiceManager.notify("STOPPING=1\nSTATUS=stopped")
    }
}
