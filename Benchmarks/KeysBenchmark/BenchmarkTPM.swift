import CryptoPrimitives
import Foundation
import HashChain
import Keys
import SystemPackage
import TPM2

/// The benchmark's swtpm (started here, stopped by pid) and a provisioned keys state beside it.
final class BenchmarkTPM {
    let work: String
    let port: Int
    private let process: Process

    init(work: String) throws {
        self.work = work
        try FileManager.default.createDirectory(atPath: "\(work)/tpm", withIntermediateDirectories: true)
        // Below Linux's ephemeral range (32768 and up), where the benchmark's own connections leave TIME_WAIT
        // sockets; and again on other ports if swtpm could not bind these.
        for _ in 0..<10 {
            let port = Int.random(in: 20_000...32_000)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/swtpm")
            process.arguments = [
                "socket", "--tpm2", "--tpmstate", "dir=\(work)/tpm",
                "--server", "type=tcp,bindaddr=127.0.0.1,port=\(port)",
                "--ctrl", "type=tcp,bindaddr=127.0.0.1,port=\(port + 1)", "--flags", "not-need-init,startup-clear",
            ]
            try process.run()
            for _ in 0..<250 where process.isRunning {
                if (try? TPMConnection(tcti: "swtpm:host=127.0.0.1,port=\(port)")) != nil {
                    self.port = port
                    self.process = process
                    return
                }
                Thread.sleep(forTimeInterval: 0.02)
            }
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
        }
        throw KeysError("swtpm did not start on any of ten port pairs")
    }

    var tcti: String { "swtpm:host=127.0.0.1,port=\(port)" }

    /// SIGKILL, by pid: swtpm inherits this process's blocked signals (Foundation's Process keeps the mask), so
    /// SIGTERM would wait forever. Its state is only this benchmark's.
    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
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
