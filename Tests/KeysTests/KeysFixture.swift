import CryptoPrimitives
import Foundation
import HashChain
import Keys
import Logging
import ServiceLifecycle
import SystemPackage
import TPM2
import TestSupport

/// A keys service as home and the appliance set it up, over a real swtpm that the fixture starts and stops by pid:
/// three officials (2 of 3 recover), home's policy key, a configuration, provisioning, and a policy signed for the
/// PCRs as they are. `remove()` in a `defer` stops everything and removes the scratch directory.
final class KeysFixture: @unchecked Sendable {
    let scratch: ScratchDirectory
    let tpm: SoftwareTPM
    let configuration: KeysConfiguration
    let policyKey: P256PrivateKey
    let officials: [(name: String, key: X25519PrivateKey)]
    var files: KeysStateFiles { KeysStateFiles(directory: FilePath(configuration.stateDirectory)) }
    static let pcrs = try! PCRSelection(bank: .sha256, indices: [0, 7])

    init(
        readerUID: UInt32? = nil, ingestUID: UInt32? = nil, signerUID: UInt32? = nil, socketGroup: UInt32? = nil
    )
        throws
    {
        scratch = try ScratchDirectory(prefix: "saatkond-keys")
        do {
            tpm = try SoftwareTPM.start()
        } catch {
            scratch.remove()
            throw error
        }
        let home = "\(scratch.path)/home"
        try FileManager.default.createDirectory(atPath: "\(home)/policies", withIntermediateDirectories: true)
        officials = try (1...3).map { ("official-\($0)", try X25519PrivateKey()) }
        for (name, key) in officials {
            try (Hex.encode(key.publicKey.rawRepresentation) + "\n").write(
                toFile: "\(home)/\(name).pub", atomically: true, encoding: .utf8)
        }
        policyKey = try P256PrivateKey()
        try policyKey.publicKey.pemRepresentation.write(toFile: "\(home)/policy.pub", atomically: true, encoding: .utf8)
        var configuration = KeysConfiguration(
            stateDirectory: "\(scratch.path)/state", tcti: tpm.tcti, pcrs: Self.pcrs, policyKey: "\(home)/policy.pub",
            policyDirectory: "\(home)/policies",
            officials: officials.map { .init(name: $0.name, publicKey: "\(home)/\($0.name).pub") }, escrowThreshold: 2,
            socket: "\(scratch.path)/keys.sock", applianceName: "ee-test-1")
        configuration.readerUIDs = Set(readerUID.map { [$0] } ?? [])
        configuration.ingestUIDs = Set(ingestUID.map { [$0] } ?? [])
        configuration.signerUIDs = Set(signerUID.map { [$0] } ?? [])
        configuration.socketGroup = socketGroup
        configuration.intrusion = "\(scratch.path)/intrusion"
        self.configuration = configuration
        try "0\n".write(toFile: configuration.intrusion!, atomically: true, encoding: .utf8)
        if socketGroup != nil {
            // The socket's directory must be reachable by the group's users.
            chmod(scratch.path, 0o755)
        }
    }

    func remove() {
        tpm.stop()
        scratch.remove()
    }

    /// Provisions with a vault of its own connection (closed afterwards: swtpm serves one at a time).
    func provision() throws -> Provisioning.Report {
        try Provisioning(configuration: configuration, vault: try TPMKeyVault(configuration: configuration)).run()
    }

    /// The PCR values the TPM holds now (read over a connection closed afterwards).
    func currentPCRs() throws -> [Int: [UInt8]] {
        try TPMConnection(tcti: tpm.tcti).readPCRs(bank: Self.pcrs.bank, indices: Self.pcrs.indices)
    }

    /// Signs and installs a policy for the PCR values the TPM holds now, or for `values`.
    func signPolicyForCurrentPCRs(named name: String = "current.policy", values given: [Int: [UInt8]]? = nil) throws {
        let values = try given ?? currentPCRs()
        let signed = try SignedPolicy.sign(
            pcrs: Self.pcrs, policy: try PolicyCalculation.digest(Self.pcrs, values: values), with: policyKey)
        try signed.text.write(toFile: "\(configuration.policyDirectory)/\(name)", atomically: true, encoding: .utf8)
    }

    /// Extends a PCR, as a different boot's measurement would.
    func extendPCR(_ index: Int) throws {
        try TPMConnection(tcti: tpm.tcti).extendPCR(index, digest: SHA256.hash(Array("another boot".utf8)))
    }

    /// Starts the service in this process; `stop` it when done.
    func start(
        intrusionPoll: Duration = .milliseconds(50), decommission: DecommissionPolicy? = nil,
        unsealRetry: Duration = .seconds(60)
    ) async throws -> RunningKeys {
        let service = try KeysService(
            files: files, vault: try TPMKeyVault(configuration: configuration), socket: .init(configuration),
            intrusion: configuration.intrusion.map { IntrusionSensor(path: FilePath($0)) },
            decommission: decommission, intrusionPoll: intrusionPoll, unsealRetry: unsealRetry,
            logger: Logger(label: "test.keys"))
        let group = ServiceGroup(services: [service], logger: Logger(label: "test.keys"))
        let task = Task { try await group.run() }
        // Ready when the socket answers.
        for _ in 0..<200 {
            if (try? KeysClient(socket: configuration.socket).status()) != nil { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        return RunningKeys(service: service, group: group, task: task)
    }
}

/// A keys service running in the test's process.
struct RunningKeys {
    let service: KeysService
    let group: ServiceGroup
    let task: Task<Void, any Error>

    func stop() async throws {
        await group.triggerGracefulShutdown()
        try await task.value
    }
}
