import Foundation
import TestSupport
import Testing

/// The development appliance's keys service: its files missing is reported, never a reason to make new keys, and
/// where no TPM can be had it says its keys are insecure.
@Suite("Development keys", .enabled(if: SaatkondExecutable.exists))
struct DevelopmentKeyTests {
    @Test("with the sealed storage key missing, saatkond dev starts locked and provisions nothing anew")
    func missingSealedKey() throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-dev-keys")
        defer { scratch.remove() }
        let state = "\(scratch.path)/state"
        let appliance = try DevAppliance(state: state, logs: scratch.path)
        #expect(appliance.stop() == 0)
        let keys = "\(state)/keys"
        let before = try ["storage.pub", "escrow.bundle", "provisioned"].map {
            try Data(contentsOf: URL(fileURLWithPath: "\(keys)/\($0)"))
        }
        let sealed =
            FileManager.default.fileExists(atPath: "\(keys)/storage.sealed")
            ? "storage.sealed" : "insecure-storage.key"
        try FileManager.default.removeItem(atPath: "\(keys)/\(sealed)")

        let restarted = try DevAppliance(state: state, logs: scratch.path)
        let status = try runSaatkond(["keys", "status", "--socket", "\(state)/keys.sock"], scratch: scratch.path)
        #expect(status.output.contains("state: locked"), "\(status.output) \(status.errors)")
        #expect(restarted.stop() == 0)
        let after = try ["storage.pub", "escrow.bundle", "provisioned"].map {
            try Data(contentsOf: URL(fileURLWithPath: "\(keys)/\($0)"))
        }
        #expect(after == before, "the keys were made anew")
        #expect(!FileManager.default.fileExists(atPath: "\(keys)/\(sealed)"))
    }

    @Test("without swtpm, saatkond dev runs over software keys and says at start that they are insecure")
    func softwareKeys() throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-dev-keys")
        defer { scratch.remove() }
        let state = "\(scratch.path)/state"
        let appliance = try DevAppliance(state: state, logs: scratch.path, environment: ["PATH": "/nonexistent"])
        #expect(appliance.stop() == 0)
        let log = DevAppliance.read(appliance.output) + appliance.errors
        #expect(log.contains("INSECURE software keys"), "\(log)")
        #expect(FileManager.default.fileExists(atPath: "\(state)/keys/insecure-storage.key"))
    }

    @Test("a state directory with the plain key files of before the keys service is refused, its files untouched")
    func plainKeysFromBefore() throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-dev-keys")
        defer { scratch.remove() }
        let state = "\(scratch.path)/state"
        try FileManager.default.createDirectory(atPath: "\(state)/keys", withIntermediateDirectories: true)
        let old = Data((0..<32).map { UInt8($0) })
        try old.write(to: URL(fileURLWithPath: "\(state)/keys/development-storage-private-key"))
        let started = try runSaatkond(["dev", "--state", state, "--listen", "127.0.0.1:0"], scratch: scratch.path)
        #expect(started.status != 0)
        #expect(started.errors.contains("from before the keys service"), "\(started.errors)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: "\(state)/keys/development-storage-private-key")) == old)
    }
}
