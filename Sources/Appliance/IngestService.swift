import CryptoPrimitives
import DurableFiles
import ErasureStore
import Keys
import Logging
import NIOCore
import Prometheus
import Receipts
import Receiver
import ReplicationTransport
import StoreFormat
import SystemPackage
import Watchdog

/// `saatkond ingest`: the production replication receiver, as one systemd service (Type=notify, watchdog).
public struct IngestService: Sendable {
    private let configuration: IngestConfiguration
    private let file: String
    private let logger: Logger

    /// Creates the service from a parsed configuration read from `file`.
    public init(configuration: IngestConfiguration, file: String, logger: Logger = Logger(label: "saatkond.ingest")) {
        self.configuration = configuration
        self.file = file
        self.logger = logger
    }

    /// Loads everything the configuration names (reporting mistakes with the file they are in), then runs until
    /// SIGTERM or SIGINT.
    public func run(onListening: @escaping @Sendable (SocketAddress) -> Void = { _ in }) async throws {
        ProcessHeap.bound()
        ProcessProtection.protect(logger: logger)
        let policyFiles = PolicyFiles(
            policy: FilePath(configuration.policy), denyList: configuration.denyList.map { FilePath($0) },
            trustedAuthorities: FilePath(configuration.homeAuthority))
        let policy = try ReplicationPort.loadPolicy(policyFiles)
        let (keys, receiptKey) = try await loadKeys()
        let store = try ReplicationPort.openStore(
            memberRoot: configuration.memberRoot, members: configuration.members, keys: keys)
        // Once the server has stopped: the writes and flushes still queued finish before the service exits.
        defer { store.shutdown() }
        let reporter = configuration.disksSocket.map { MemberErrorReporter(socket: $0, logger: self.logger) }
        reporter?.watch(store)
        defer { reporter?.stop() }
        let port = ReplicationPort(
            host: configuration.host, port: configuration.port,
            identity: TLSIdentityFiles(
                certificate: configuration.certificate, privateKey: configuration.privateKey,
                trustedAuthorities: configuration.homeAuthority),
            policyFiles: policyFiles, receiptKey: receiptKey, applianceName: configuration.applianceName,
            serving: "receiving replication")
        // The receiver's figures in a registry of this process, answered on the metrics socket.
        let registry = PrometheusCollectorRegistry()
        let metricsSocket = configuration.metricsSocket.map {
            MetricsSocket(
                path: $0, readers: configuration.metricsReaderUIDs, registry: registry, store: store, logger: logger)
        }
        try await port.run(
            policy: policy, storage: store, logger: logger, onListening: onListening,
            alongside: metricsSocket.map { [$0] } ?? [],
            checks: [StoreWritableCheck(store: store)],
            history: configuration.disksSocket.map {
                WatchdogHistory(
                    service: "ingest", recorder: DisksSocketRecorder(socket: $0),
                    configurationText: configuration.text)
            },
            metrics: ReplicationMetrics(factory: PrometheusMetricsFactory(registry: registry)))
    }

    /// The storage public key, the journal key and the receipt-signing key: from the keys service when one is
    /// configured (waiting for it, as at boot, up to a minute), else from the configured files. Never the storage
    /// private key: committed segments are not read here.
    private func loadKeys() async throws -> (StorageKeys, any ReceiptSigningKey) {
        if let socket = configuration.keysSocket {
            let client = KeysClient(socket: socket)
            let (publicKey, journalKey) = try await client.waitForStorageKeys(logger: logger)
            ProcessProtection.reportUnlocked([("journal-key", journalKey)], logger: logger)
            let keys = try StorageKeys(storagePublicKey: publicKey, segmentKeys: nil, journalKey: journalKey)
            return (keys, try client.signingKey())
        }
        // The public key is no secret; it only shares the key files' form.
        let publicKey = try X25519PublicKey(
            rawRepresentation: try KeyFile.read(FilePath(configuration.storagePublicKey), in: file)
                .withUnsafeBytes { Array($0) })
        let journalKey = try KeyFile.read(FilePath(configuration.journalKey), in: file)
        let signingKeyFile = try KeyFile.readPEM(FilePath(configuration.signingKey), in: file)
        ProcessProtection.reportUnlocked(
            [("journal-key", journalKey), ("signing-key", signingKeyFile)], logger: logger)
        let receiptKey: SoftwareReceiptSigningKey
        do {
            receiptKey = SoftwareReceiptSigningKey(try P256PrivateKey(pemRepresentation: signingKeyFile))
        } catch let error as CryptoError {
            throw ConfigurationError(
                "\(file): signing-key \(configuration.signingKey) is not a P-256 private key in PEM: \(error.message)")
        }
        let keys = try StorageKeys(storagePublicKey: publicKey, segmentKeys: nil, journalKey: journalKey)
        return (keys, receiptKey)
    }
}
