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
}
