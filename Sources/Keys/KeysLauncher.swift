import Logging
import NIOPosix
import ServiceLifecycle
import SystemPackage
import Systemd
import Watchdog

/// Starts `saatkond keys` from its configuration: the TPM vault, the service, systemd's notifications.
public enum KeysLauncher {
    public static func run(configuration: KeysConfiguration, logger: Logger) async throws {
        ProcessProtection.protect(logger: logger)
        let files = KeysStateFiles(directory: FilePath(configuration.stateDirectory))
        let vault = try TPMKeyVault(configuration: configuration)
        let service = try KeysService(
            files: files, vault: vault, socket: KeysService.Socket(configuration),
            intrusion: configuration.intrusion.map { IntrusionSensor(path: FilePath($0)) },
            decommission: try decommissionPolicy(configuration), configurationText: configuration.text, logger: logger
        ) { state in
            _ = try? ServiceManager.notify("READY=1\nSTATUS=keys \(state)")
        }
        let watchdog = try WatchdogService(
            checks: [
                EventLoopLivenessCheck(group: MultiThreadedEventLoopGroup.singleton), VaultAnswersCheck(vault: vault),
            ],
            logger: logger, history: WatchdogHistory(service: "keys", recorder: service, recordsStartAndStop: false))
        try await ServiceGroup(
            configuration: .init(
                services: [.init(service: watchdog), .init(service: service)],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        ).run()
        _ = try? ServiceManager.notify("STOPPING=1")
    }

    /// The decommission keys and quorum, or nil when none are configured.
    public static func decommissionPolicy(_ configuration: KeysConfiguration) throws -> DecommissionPolicy? {
        guard !configuration.decommissionKeys.isEmpty else { return nil }
        return DecommissionPolicy(
            keys: try configuration.decommissionKeys.map { try Provisioning.readP256PublicKey(FilePath($0)) },
            quorum: configuration.decommissionQuorum, appliance: configuration.applianceName)
    }
}
