import CryptoPrimitives
import Disks
import Keys
import Logging
import ServiceLifecycle
import StoreFormat
import SystemPackage
import Systemd
import Watchdog

/// `saatkond disks` under systemd: the disks service and its watchdog, until SIGTERM or SIGINT.
public enum DisksLauncher {
    public static func run(configuration: DisksConfiguration, file: String, logger: Logger) async throws {
        let keys = try await storageKeys(configuration, file: file, logger: logger)
        let service = DisksService(configuration: configuration, keys: keys, logger: logger)
        let watchdog = try WatchdogService(
            checks: [DisksLivenessCheck(service: service)], logger: logger,
            history: WatchdogHistory(service: "disks", recorder: service, recordsStartAndStop: false))
        try await ServiceGroup(
            configuration: .init(
                services: [.init(service: watchdog), .init(service: service)],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        ).run()
        _ = try? ServiceManager.notify("STOPPING=1\nSTATUS=stopped")
    }

    /// The keys a rebuild and a scrub use without reading any stream: the storage public key and the journal key
    /// (journal copies are checked before one is copied to a replacement), from the keys service when one is
    /// configured. Never the storage private key.
    static func storageKeys(
        _ configuration: DisksConfiguration, file: String, logger: Logger
    ) async throws
        -> StorageKeys
    {
        if let socket = configuration.keysSocket {
            let (publicKey, journalKey) = try await KeysClient(socket: socket).waitForStorageKeys(logger: logger)
            return try StorageKeys(storagePublicKey: publicKey, segmentKeys: nil, journalKey: journalKey)
        }
        let publicKey = try X25519PublicKey(
            rawRepresentation: try KeyFile.read(FilePath(configuration.storagePublicKey), in: file)
                .withUnsafeBytes { Array($0) })
        let journalKey = try KeyFile.read(FilePath(configuration.journalKey), in: file)
        return try StorageKeys(storagePublicKey: publicKey, storagePrivateKey: nil, journalKey: journalKey)
    }
}
