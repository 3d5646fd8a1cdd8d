import Foundation
import TestSupport
import Testing

/// The development appliance's key files: a missing one is reported, and never a reason to replace the other.
@Suite("Development keys", .enabled(if: SaatkondExecutable.exists))
struct DevelopmentKeyTests {
    @Test(
        "with one key file missing, saatkond dev refuses to start and leaves the other key as it was",
        arguments: ["development-journal-key", "development-storage-private-key"])
    func missingKeyFile(missing: String) throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-keys")
        defer { scratch.remove() }
        let state = "\(scratch.path)/state"
        let appliance = try DevAppliance(state: state, logs: scratch.path)
        #expect(appliance.stop() == 0)
        let keys = "\(state)/keys"
        let kept = ["development-journal-key", "development-storage-private-key"].first { $0 != missing }!
        let before = try Data(contentsOf: URL(fileURLWithPath: "\(keys)/\(kept)"))
        try FileManager.default.removeItem(atPath: "\(keys)/\(missing)")

        let started = try runSaatkond(["dev", "--state", state, "--listen", "127.0.0.1:0"], scratch: scratch.path)
        #expect(started.status != 0)
        #expect(started.errors.contains("\(missing) is missing"), "\(started.errors)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: "\(keys)/\(kept)")) == before, "the remaining key changed")
        #expect(!FileManager.default.fileExists(atPath: "\(keys)/\(missing)"))
    }

    @Test("the receipt-signing key is a P-256 key file only its owner reads, and its public key is beside it")
    func signingKeyFiles() throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-keys")
        defer { scratch.remove() }
        let state = "\(scratch.path)/state"
        let appliance = try DevAppliance(state: state, logs: scratch.path)
        #expect(appliance.stop() == 0)
        let privateKey = "\(state)/keys/development-signing-key.pem"
        let publicKey = "\(state)/keys/development-signing-public-key.pem"
        let permissions = try FileManager.default.attributesOfItem(atPath: privateKey)[.posixPermissions] as? Int
        #expect(permissions == 0o600)
        #expect(try String(contentsOfFile: privateKey, encoding: .utf8).hasPrefix("-----BEGIN PRIVATE KEY-----\n"))
        // openssl derives from the private key exactly the public key file saatkond dev wrote.
        let derived = try Command.run("openssl", ["pkey", "-in", privateKey, "-pubout"])
        #expect(try derived + "\n" == String(contentsOfFile: publicKey, encoding: .utf8))
        let curve = try Command.run("openssl", ["pkey", "-in", privateKey, "-noout", "-text"])
        #expect(curve.contains("NIST CURVE: P-256"), "\(curve)")

        // A public key file that went missing or stale is written again from the private key at the next start.
        try "stale\n".write(toFile: publicKey, atomically: true, encoding: .utf8)
        let again = try DevAppliance(state: state, logs: scratch.path)
        #expect(again.stop() == 0)
        #expect(try derived + "\n" == String(contentsOfFile: publicKey, encoding: .utf8))
    }
}
