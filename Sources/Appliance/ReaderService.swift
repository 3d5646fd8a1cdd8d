import Keys
import Logging
import NIOCore
import Receipts
import ReplicationProtocol
import ReplicationTransport
import StoreFormat
import SystemPackage
import Watchdog

/// `saatkond reader`: restores and listings for home, on a port of their own, as one systemd service.
///
/// Ingest, the service that faces the senders, holds only what writing needs and refuses to read committed
/// segments. The reader reads them with each segment's data key unwrapped by the keys service, one at a time, so
/// the storage private key never leaves that service; it opens the members read-only (another user, the kernel
/// refuses it every write) and refuses every append. It holds data keys and plaintext for as long as a restore
/// needs them, so it is non-dumpable like the keys service.
public struct ReaderService: Sendable {
    private let configuration: ReaderConfiguration
    private let logger: Logger

    /// Creates the service from a parsed configuration.
    public init(configuration: ReaderConfiguration, logger: Logger = Logger(label: "saatkond.reader")) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Loads everything the configuration names, waits for the keys service (up to a minute, as at boot), then
    /// serves until SIGTERM or SIGINT.
    public func run(onListening: @escaping @Sendable (SocketAddress) -> Void = { _ in }) async throws {
        ProcessHeap.bound()
        ProcessProtection.protect(logger: logger)
        let policyFiles = PolicyFiles(
            policy: FilePath(configuration.policy), denyList: configuration.denyList.map { FilePath($0) },
            trustedAuthorities: FilePath(configuration.homeAuthority))
        let policy = try ReplicationPort.loadPolicy(policyFiles)
        let client = KeysClient(socket: configuration.keysSocket)
        let (publicKey, journalKey) = try await client.waitForStorageKeys(logger: logger)
        ProcessProtection.reportUnlocked([("journal-key", journalKey)], logger: logger)
        let keys = try StorageKeys(
            storagePublicKey: publicKey, segmentKeys: client.segmentKeys, journalKey: journalKey)
        let store = try ReplicationPort.openStore(
            memberRoot: configuration.memberRoot, members: configuration.members, keys: keys)
        defer { store.shutdown() }
        let port = ReplicationPort(
            host: configuration.host, port: configuration.port,
            identity: TLSIdentityFiles(
                certificate: configuration.certificate, privateKey: configuration.privateKey,
                trustedAuthorities: configuration.homeAuthority),
            policyFiles: policyFiles, receiptKey: NoReceipts(), applianceName: "",
            limits: ReceiverStateMachine.Limits(servesAppends: false), serving: "serving restores")
        try await port.run(
            policy: policy, storage: store, logger: logger, onListening: onListening,
            alongside: configuration.stateSocket.map {
                [StreamStateSocket(path: $0, readers: configuration.stateReaderUIDs, store: store, logger: logger)]
            } ?? [],
            history: configuration.disksSocket.map {
                WatchdogHistory(
                    service: "reader", recorder: DisksSocketRecorder(socket: $0),
                    configurationText: configuration.text)
            })
    }
}

/// The reader's port takes no append, so it signs no receipt; were one asked for, this says why not.
private struct NoReceipts: ReceiptSigningKey {
    var keyID: String { "none" }

    func sign(_ message: [UInt8]) throws -> [UInt8] {
        throw ConfigurationError("the reader signs no receipts: they are for appends, which it refuses")
    }
}
