import CryptoPrimitives
import DevelopmentIdentity
import DurableFiles
import Escrow
import Foundation
import HashChain
import Keys
import Logging
import Receipts
import StoreFormat
import SystemPackage
import TPM2

/// The keys service of `saatkond dev`: the same ``KeysService`` as on the appliance, in the development process,
/// over a TPM — the one `--tcti` names, else a swtpm it starts itself in `<state>/tpm` when swtpm is installed —
/// and otherwise over software keys, which it calls insecure at every start.
///
/// On first start it provisions as home and the appliance would together: two development officials' keys and home's
/// development policy key in `<state>/keys/home`, the escrow bundle (2 of 3), and a policy signed for the PCRs as
/// they are now. A later start never signs a policy again: measurements that changed lock the keys, as on the
/// appliance, until a policy is signed for them (`saatkond keys sign-policy --key <state>/keys/home/policy.pem`).
struct DevelopmentKeys {
    let state: StateDirectory
    let tcti: String?
    let logger: Logger

    /// The PCRs the development keys are sealed to: the firmware's and the boot loader's measurements a swtpm
    /// starts with at zero.
    static let pcrs = try! PCRSelection(bank: .sha256, indices: [0, 7])

    var directory: FilePath { state.keys }
    var home: FilePath { state.keys.appending("home") }
    var socket: FilePath { state.path.appending("keys.sock") }
    var intrusion: FilePath { state.path.appending("chassis-intrusion") }

    /// What runs: the service, and the swtpm started for it (stopped by `stop()`).
    struct Running {
        let service: KeysService
        let tpm: SoftwareTPMProcess?

        func stop() {
            tpm?.stop()
        }
    }

    func start() throws -> Running {
        if FileSystemCalls.exists(directory.appending("development-storage-private-key")) {
            throw ConfigurationError(
                "\(state.path) holds development keys in plain files from before the keys service; its streams "
                    + "cannot be moved into the keys service: use a new state directory (--state) or remove this one")
        }
        try FileSystemCalls.createDirectories(home)
        var tpm: SoftwareTPMProcess?
        let vault: any KeyVault
        if let tcti {
            vault = try TPMKeyVault(configuration: configuration(tcti: tcti))
        } else if let swtpm = SoftwareTPMProcess.executable {
            let (started, opened) = try SoftwareTPMProcess.start(executable: swtpm, state: state.path.appending("tpm"))
            {
                try TPMKeyVault(configuration: configuration(tcti: $0))
            }
            tpm = started
            vault = opened
            logger.notice("keys: sealed in a swtpm started for development", metadata: ["tcti": "\(started.tcti)"])
        } else {
            vault = SoftwareKeyVault(directory: directory)
            logger.warning(
                "keys: INSECURE software keys in plain files (swtpm is not installed: apt install swtpm swtpm-tools)")
        }
        do {
            let files = KeysStateFiles(directory: directory)
            if !FileSystemCalls.exists(files.provisioned), !FileSystemCalls.exists(files.zeroized) {
                try provision(vault: vault)
            }
            if !FileSystemCalls.exists(intrusion) {
                try Array("0\n".utf8).withUnsafeBytes { try FileSystemCalls.writeAtomically($0, to: intrusion) }
            }
            let service = try KeysService(
                files: files, vault: vault,
                socket: .onlyFor(
                    uid: getuid(), path: socket.string,
                    reports: KeysService.ReportSources(applianceName: "saatkond-dev")),
                intrusion: IntrusionSensor(path: intrusion), decommission: nil, logger: logger)
            return Running(service: service, tpm: tpm)
        } catch {
            tpm?.stop()
            throw error
        }
    }

    private func configuration(tcti: String) -> KeysConfiguration {
        KeysConfiguration(
            stateDirectory: directory.string, tcti: tcti, pcrs: Self.pcrs,
            policyKey: home.appending("policy.pem.pub").string, policyDirectory: home.appending("policies").string,
            officials: (1...3).map {
                .init(name: "official-\($0)", publicKey: home.appending("official-\($0).key.pub").string)
            },
            escrowThreshold: 2, socket: socket.string, applianceName: "saatkond-dev")
    }

    /// Home's part (officials, policy key, a policy for today's PCRs) and the appliance's (provisioning).
    private func provision(vault: any KeyVault) throws {
        let configuration = configuration(tcti: tcti ?? "")
        for official in configuration.officials {
            // A provisioning that stopped half-way made some already: they are made again with the rest.
            let privatePath = FilePath(String(official.publicKey.dropLast(".pub".count)))
            try? FileSystemCalls.remove(privatePath)
            try? FileSystemCalls.remove(FilePath(official.publicKey))
            _ = try EscrowFiles.makeOfficialKey(at: privatePath)
        }
        let policyKey = try P256PrivateKey()
        let policyKeyPath = home.appending("policy.pem")
        try? FileSystemCalls.remove(policyKeyPath)
        try SecretFile.write(policyKey.pemRepresentation, to: policyKeyPath.string)
        try Array(policyKey.publicKey.pemRepresentation.utf8).withUnsafeBytes {
            try FileSystemCalls.writeAtomically(
                $0, to: FilePath(configuration.policyKey), permissions: [.ownerReadWrite, .groupRead, .otherRead])
        }
        // Before the provisioning marker: a development appliance that stopped in between is provisioned again,
        // never left with keys but no policy that opens them.
        if let tpmVault = vault as? TPMKeyVault {
            let values = try tpmVault.readPCRs(Self.pcrs)
            let signed = try SignedPolicy.sign(
                pcrs: Self.pcrs, policy: try PolicyCalculation.digest(Self.pcrs, values: values), with: policyKey,
                comment: "development: the PCRs at provisioning")
            try FileSystemCalls.createDirectories(FilePath(configuration.policyDirectory))
            try Array(signed.text.utf8).withUnsafeBytes {
                try FileSystemCalls.writeAtomically(
                    $0, to: FilePath(configuration.policyDirectory).appending("provisioning.policy"),
                    permissions: [.ownerReadWrite, .groupRead, .otherRead])
            }
        }
        let report = try Provisioning(configuration: configuration, vault: vault).run()
        logger.notice(
            "keys: provisioned for development",
            metadata: [
                "escrow": "\(report.escrowBundle)", "signing-key": "\(ReceiptKeyID.of(report.signingPublicKey))",
            ])
    }
}
