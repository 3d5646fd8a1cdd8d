import CryptoPrimitives
import Foundation
import HashChain
import TPM2
import TestSupport
import Testing

/// The keys service inside `saatkond dev`, over a real swtpm that each test starts and stops by pid
/// (`saatkond dev --tcti`): what home and the appliance's users see of sealing, locking, escrow and zeroization.
@Suite(
    "Keys through the development appliance", .serialized,
    .enabled(if: SaatkondExecutable.exists && SoftwareTPM.isInstalled, SoftwareTPM.missingMessage))
struct KeysApplianceTests {
    /// Two whole segments and a tail, so that committed segments (which need the storage key) are read.
    static let streamBytes = (2 << 23) + 12_345

    /// A swtpm, a scratch directory and a `saatkond dev` state directory that use it.
    final class Rig {
        let scratch: ScratchDirectory
        let tpm: SoftwareTPM
        var state: String { "\(scratch.path)/state" }
        var keys: String { "\(state)/keys" }
        var socket: String { "\(state)/keys.sock" }

        init() throws {
            scratch = try ScratchDirectory(prefix: "saatkond-dev-tpm")
            do {
                tpm = try SoftwareTPM.start()
            } catch {
                scratch.remove()
                throw error
            }
        }

        func remove() {
            tpm.stop()
            scratch.remove()
        }

        func start() throws -> DevAppliance {
            try DevAppliance(state: state, logs: scratch.path, extraArguments: ["--tcti", tpm.tcti])
        }

        func send(
            _ stream: String, _ file: String, to appliance: DevAppliance, receipt: String? = nil
        ) throws
            -> CommandResult
        {
            try runSaatkond(
                ["send", "--state", state, "--connect", "127.0.0.1:\(appliance.port)", "--stream", stream]
                    + (receipt.map { ["--receipt", $0] } ?? []) + [file], scratch: scratch.path)
        }

        func restore(_ stream: String, from appliance: DevAppliance, to output: String) throws -> CommandResult {
            try runSaatkond(
                [
                    "restore", "--state", state, "--connect", "127.0.0.1:\(appliance.port)", "--stream", stream,
                    "--output", output,
                ], scratch: scratch.path)
        }

        func keysState() throws -> String {
            try runSaatkond(["keys", "status", "--socket", socket], scratch: scratch.path).output
        }
    }

    @Test("provision, restart, unseal, restore; a receipt signed by the TPM key verifies offline, altered it fails")
    func provisionRestartRestore() throws {
        let rig = try Rig()
        defer { rig.remove() }
        let input = "\(rig.scratch.path)/input.bin"
        let receipt = "\(rig.scratch.path)/input.receipt"
        try writeRandomFile(input, count: Self.streamBytes)
        do {
            let appliance = try rig.start()
            #expect(try rig.keysState().contains("state: unsealed"))
            let sent = try rig.send("ee.keys.test", input, to: appliance, receipt: receipt)
            #expect(sent.status == 0, "\(sent.errors)")
            #expect(appliance.stop() == 0)
        }
        let appliance = try rig.start()
        defer { _ = appliance.stop() }
        #expect(try rig.keysState().contains("state: unsealed"))
        let output = "\(rig.scratch.path)/restored.bin"
        let restored = try rig.restore("ee.keys.test", from: appliance, to: output)
        #expect(restored.status == 0, "\(restored.errors)")
        #expect(sameBytes(input, output))

        let publicKey = "\(rig.keys)/signing.pem"
        let verified = try runSaatkond(["verify", receipt, "--public-key", publicKey], scratch: rig.scratch.path)
        #expect(verified.status == 0, "\(verified.errors)")
        let text = try String(contentsOfFile: receipt, encoding: .utf8)
        let key = try String(contentsOfFile: "\(rig.keys)/provisioned", encoding: .utf8)
        #expect(text.contains("p256:"), "the receipt names no P-256 key: \(text)")
        #expect(key.contains("signing-key = p256:"))
        // Every field altered in turn: each fails.
        for (index, line) in text.split(separator: "\n").enumerated() {
            guard let colon = line.range(of: ": ") else { continue }
            var lines = text.split(separator: "\n").map(String.init)
            let value = line[colon.upperBound...]
            guard let last = value.last else { continue }
            let changed = String(value.dropLast()) + (last == "0" ? "1" : "0")
            lines[index] = String(line[..<colon.upperBound]) + changed
            let altered = "\(rig.scratch.path)/altered-\(index).receipt"
            try (lines.joined(separator: "\n") + "\n").write(toFile: altered, atomically: true, encoding: .utf8)
            let result = try runSaatkond(["verify", altered, "--public-key", publicKey], scratch: rig.scratch.path)
            #expect(result.status != 0, "a receipt with line \(index) altered verified: \(lines[index])")
        }
    }

    @Test("a PCR extended before start: keys locked, sending goes on, restore refused; a policy home signs unseals")
    func measurementsChange() throws {
        let rig = try Rig()
        defer { rig.remove() }
        let first = "\(rig.scratch.path)/first.bin"
        let second = "\(rig.scratch.path)/second.bin"
        try writeRandomFile(first, count: Self.streamBytes)
        try writeRandomFile(second, count: Self.streamBytes)
        do {
            let appliance = try rig.start()
            #expect(try rig.send("ee.first", first, to: appliance).status == 0)
            #expect(appliance.stop() == 0)
        }
        // Another boot: the measurements differ from the ones home approved at provisioning.
        let values = try {
            let tpm = try TPMConnection(tcti: rig.tpm.tcti)
            try tpm.extendPCR(7, digest: SHA256.hash(Array("an unapproved boot loader".utf8)))
            return try tpm.readPCRs(bank: .sha256, indices: [0, 7])
        }()
        do {
            let appliance = try rig.start()
            let state = try rig.keysState()
            #expect(state.contains("state: locked"), "\(state)")
            let sent = try rig.send("ee.second", second, to: appliance)
            #expect(sent.status == 0, "sealed but writable: \(sent.errors)")
            let refused = try rig.restore("ee.first", from: appliance, to: "\(rig.scratch.path)/refused.bin")
            #expect(refused.status != 0)
            #expect(refused.errors.contains("sealed"), "\(refused.errors)")
            #expect(!FileManager.default.fileExists(atPath: "\(rig.scratch.path)/refused.bin"))
            #expect(appliance.stop() == 0)
        }
        // Home approves the new measurements: a signed policy, no re-provisioning.
        let signed = try runSaatkond(
            [
                "keys", "sign-policy", "--key", "\(rig.keys)/home/policy.pem", "--pcrs", "sha256:0,7",
                "--pcr", "0=\(Hex.encode(values[0]!))", "--pcr", "7=\(Hex.encode(values[7]!))",
                "--output", "\(rig.keys)/home/policies/release-2.policy",
            ], scratch: rig.scratch.path)
        #expect(signed.status == 0, "\(signed.errors)")
        let appliance = try rig.start()
        defer { _ = appliance.stop() }
        #expect(try rig.keysState().contains("state: unsealed"))
        for (stream, file) in [("ee.first", first), ("ee.second", second)] {
            let output = "\(rig.scratch.path)/\(stream).restored"
            let restored = try rig.restore(stream, from: appliance, to: output)
            #expect(restored.status == 0, "\(restored.errors)")
            #expect(sameBytes(file, output))
        }
    }
}
