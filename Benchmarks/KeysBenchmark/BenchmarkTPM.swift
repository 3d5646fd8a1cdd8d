import CryptoPrimitives
import Foundation
import HashChain
import Keys
import SystemPackage
import TPM2

/// The benchmark's swtpm (the one `saatkond dev` starts, stopped by pid) and a provisioned keys state beside it.
final class BenchmarkTPM {
    let work: String
    private let process: SoftwareTPMProcess

    init(work: String) throws {
        self.work = work
        guard let executable = SoftwareTPMProcess.executable else { throw KeysError("swtpm is not installed") }
        (process, _) = try SoftwareTPMProcess.start(executable: executable, state: FilePath("\(work)/tpm")) {
            try TPMConnection(tcti: $0)
        }
    }

    var tcti: String { process.tcti }

    func stop() {
        process.stop()
    }

    /// Home's keys, a configuration, provisioning and a policy for the PCRs as they are.
    func provisionedConfiguration() throws -> KeysConfiguration {
        let home = "\(work)/home"
        try FileManager.default.createDirectory(atPath: "\(home)/policies", withIntermediateDirectories: true)
        var officials: [KeysConfiguration.Official] = []
        for index in 1...3 {
            let key = try X25519PrivateKey()
            try Hex.encode(key.publicKey.rawRepresentation).write(
                toFile: "\(home)/official-\(index).pub", atomically: true, encoding: .utf8)
            officials.append(.init(name: "official-\(index)", publicKey: "\(home)/official-\(index).pub"))
        }
        let policyKey = try P256PrivateKey()
        try policyKey.publicKey.pemRepresentation.write(toFile: "\(home)/policy.pub", atomically: true, encoding: .utf8)
        let pcrs = try! PCRSelection(bank: .sha256, indices: [0, 7])
        let configuration = KeysConfiguration(
            stateDirectory: "\(work)/state", tcti: tcti, pcrs: pcrs, policyKey: "\(home)/policy.pub",
            policyDirectory: "\(home)/policies", officials: officials, escrowThreshold: 2,
            socket: "\(work)/keys.sock", applianceName: "benchmark")
        let vault = try TPMKeyVault(configuration: configuration)
        _ = try Provisioning(configuration: configuration, vault: vault).run()
        let values = try vault.readPCRs(pcrs)
        let signed = try SignedPolicy.sign(
            pcrs: pcrs, policy: try PolicyCalculation.digest(pcrs, values: values), with: policyKey)
        try signed.text.write(toFile: "\(home)/policies/benchmark.policy", atomically: true, encoding: .utf8)
        return configuration
    }
}
