import DevelopmentIdentity
import Disks
import ErasureStore
import Foundation
import Keys
import Logging
import NIOCore
import NIOPosix
import Receipts
import Receiver
import ReplicationTransport
import ServiceLifecycle
import StreamStore
import SystemPackage
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
        /// Bays of a loop-device chassis to run the disks service over (as root), instead of member directories.
        public var loopBays: Int?
        /// The repository's `hardware/` folder (the rig's udev rules).
        public var hardware: String = "hardware"
        /// How often the disks service scrubs the array (loop bays only); nil: its default, monthly.
        public var scrubEvery: Duration?
        /// Bytes per second for rebuilds and scrubs (loop bays only); nil: no limit.
        public var rebuildBytesPerSecond: Int? = 200 << 20
        /// The TPM for the keys service; nil: a swtpm started for it when swtpm is installed, else software keys.
        public var tcti: String?

        /// Creates a configuration.
        public init(state: StateDirectory, host: String = "127.0.0.1", port: Int = 7443, loopBays: Int? = nil) {
            self.state = state
            self.host = host
            self.port = port
            self.loopBays = loopBays
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
        ProcessProtection.protect(logger: logger)
        let identity = try DevelopmentIdentity.loadOrCreate(in: configuration.state.identity.directory)
        let keysService = try DevelopmentKeys(state: configuration.state, tcti: configuration.tcti, logger: logger)
            .start()
        defer { keysService.stop() }
        let keys = try keysService.service.holder.storeKeys()
        guard let bays = configuration.loopBays else {
            try await run(
                storage: try DevelopmentStorage.openOrCreate(configuration.state, keys: keys), identity: identity,
                keys: keysService.service, disks: nil, onListening: onListening)
            return
        }
        let loopBays = DevelopmentLoopBays(
            state: configuration.state, bays: bays, hardware: FilePath(configuration.hardware),
            scrubEvery: configuration.scrubEvery, rebuildBytesPerSecond: configuration.rebuildBytesPerSecond,
            logger: logger)
        let (disks, rig, udev) = try loopBays.prepare(keys: try keys.publicOnly())
        defer { loopBays.tearDown(rig: rig, udev: udev) }
        // In their bays before the disks service looks: a restart finds its members where it left them.
        try loopBays.insertDisks(rig)
        let storage = StorageOnceFormed()
        let reporter = MemberErrorReporter(socket: loopBays.socket.string, logger: logger)
        defer { reporter.stop() }
        let logger = self.logger
        let opener = Task {
            // The disks service forms the array (or finds it) from the rig's disks; ingest follows its members.
            while !Task.isCancelled {
                if let array = disks.status?.array, array.id != nil, array.degradedPositions.count < array.parityShards,
                    !(disks.status?.bays.contains { $0.disk?.state == "adopting" } ?? true)
                {
                    do {
                        let store = try ErasureCodedStore(memberRoot: loopBays.membersRoot, keys: keys)
                        reporter.watch(store)
                        storage.open(store)
                        logger.info("the array is open", metadata: ["array": "\(array.id ?? "")"])
                        return
                    } catch {
                        // Members still being mounted: the next look, in a second, may find them.
                        logger.warning("the array does not open yet", metadata: ["error": "\(error)"])
                        try await Task.sleep(for: .seconds(1))
                    }
                }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        defer { opener.cancel() }
        try await run(
            storage: storage, identity: identity, keys: keysService.service, disks: disks, onListening: onListening)
        storage.current?.shutdown()
    }

    private func run(
        storage: any StreamStorage, identity: DevelopmentIdentity, keys: KeysService, disks: DisksService?,
        onListening: @escaping @Sendable (SocketAddress) -> Void
    ) async throws {
        let tls = try ReplicationTLS.receiverConfiguration(
            TLSIdentityFiles(
                certificate: identity.applianceCertificate.string, privateKey: identity.applianceKey.string,
                trustedAuthorities: identity.authorityCertificate.string))
        let group = MultiThreadedEventLoopGroup.singleton
        let logger = self.logger
        let policyFiles = try DevelopmentPolicy.createIfMissing(
            configuration.state, trustedAuthorities: identity.authorityCertificate)
        let policy = try policyFiles.load()
        let receiptKey = try keys.holder.receiptKey()
        let server = ReplicationServer(
            configuration: .init(
                host: configuration.host, port: configuration.port, tls: tls, policy: policy, receiptKey: receiptKey,
                applianceName: "saatkond-dev"),
            storage: storage, group: group, logger: logger
        ) { address in
            do {
                _ = try ServiceManager.notify("READY=1\nSTATUS=receiving replication on \(address)")
            } catch {
                logger.error("cannot notify systemd", metadata: ["error": "\(error)"])
            }
            onListening(address)
        }
        let checks: [any LivenessCheck] =
            [EventLoopLivenessCheck(group: group)] + (disks.map { [DisksLivenessCheck(service: $0)] } ?? [])
        let watchdog = try WatchdogService(checks: checks, logger: logger)
        let reloader = PolicyReloader(files: policyFiles, server: server, logger: logger)
        let services = ServiceGroup(
            configuration: .init(
                services: [.init(service: watchdog), .init(service: keys)] + (disks.map { [.init(service: $0)] } ?? [])
                    + [.init(service: reloader), .init(service: server)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await services.run()
        _ = try? ServiceManager.notify("STOPPING=1\nSTATUS=stopped")
    }
}
