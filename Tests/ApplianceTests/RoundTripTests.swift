import DevelopmentIdentity
import Foundation
import SystemPackage
import TestSupport
import Testing

/// The appliance end to end, as a developer uses it: `saatkond dev`, `send` and `restore` as real processes,
/// over real TLS 1.3 on loopback, into real files with real fsync.
@Suite("Send and restore through the development appliance", .enabled(if: SaatkondExecutable.exists))
struct RoundTripTests {
    @Test("256 MiB of random bytes come back identical, also after the appliance restarted")
    func largeRoundTripSurvivesRestart() throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-roundtrip")
        defer { scratch.remove() }
        let state = "\(scratch.path)/state"
        let input = "\(scratch.path)/input.bin"
        try writeRandomFile(input, count: 256 << 20)

        var appliance = try DevAppliance(state: state, logs: scratch.path)
        let connect = ["--state", state, "--connect", "127.0.0.1:\(appliance.port)"]
        let sent = try runSaatkond(
            ["send"] + connect + ["--stream", "ee.population.wal", input], scratch: scratch.path)
        #expect(sent.status == 0, "send failed: \(sent.errors)")

        let first = "\(scratch.path)/first.bin"
        let restored = try runSaatkond(
            ["restore"] + connect + ["--stream", "ee.population.wal", "--output", first], scratch: scratch.path)
        #expect(restored.status == 0, "restore failed: \(restored.errors)")
        #expect(sameBytes(input, first))
        try FileManager.default.removeItem(atPath: first)

        #expect(appliance.stop() == 0, "the appliance did not stop cleanly: \(appliance.errors)")
        appliance = try DevAppliance(state: state, logs: scratch.path)
        let again = "\(scratch.path)/again.bin"
        let afterRestart = try runSaatkond(
            [
                "restore", "--state", state, "--connect", "127.0.0.1:\(appliance.port)", "--stream",
                "ee.population.wal",
                "--output", again,
            ],
            scratch: scratch.path)
        #expect(afterRestart.status == 0, "restore after restart failed: \(afterRestart.errors)")
        #expect(sameBytes(input, again))
        #expect(appliance.stop() == 0)
    }

    @Test("a second send to the same stream appends, from a file and from standard input")
    func secondSendAppends() throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-append")
        defer { scratch.remove() }
        let state = "\(scratch.path)/state"
        let appliance = try DevAppliance(state: state, logs: scratch.path)
        defer { _ = appliance.stop() }
        let connect = ["--state", state, "--connect", "127.0.0.1:\(appliance.port)"]
        let first = "\(scratch.path)/first.bin"
        let second = "\(scratch.path)/second.bin"
        try writeRandomFile(first, count: 3 << 20)
        try writeRandomFile(second, count: 1_000_001)

        #expect(
            try runSaatkond(["send"] + connect + ["--stream", "ee.land.dump", first], scratch: scratch.path).status == 0
        )
        let viaShell = try Command.run(
            "sh", ["-c", "\"$0\" send \"$@\" --stream ee.land.dump - < '\(second)'", SaatkondExecutable.path] + connect)
        _ = viaShell
        let output = "\(scratch.path)/output.bin"
        #expect(
            try runSaatkond(
                ["restore"] + connect + ["--stream", "ee.land.dump", "--output", output], scratch: scratch.path
            )
            .status == 0)
        let expected = "\(scratch.path)/expected.bin"
        try Command.run("cat", [first, second], toFile: expected)
        #expect(sameBytes(expected, output))
    }

    @Test("an empty input is a valid send; restoring an unknown stream is a clear error")
    func emptyAndUnknown() throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-empty")
        defer { scratch.remove() }
        let state = "\(scratch.path)/state"
        let appliance = try DevAppliance(state: state, logs: scratch.path)
        defer { _ = appliance.stop() }
        let connect = ["--state", state, "--connect", "127.0.0.1:\(appliance.port)"]
        #expect(FileManager.default.createFile(atPath: "\(scratch.path)/empty", contents: nil))
        let empty = try runSaatkond(
            ["send"] + connect + ["--stream", "ee.empty", "\(scratch.path)/empty"], scratch: scratch.path)
        #expect(empty.status == 0, "\(empty.errors)")

        let unknown = try runSaatkond(
            ["restore"] + connect + ["--stream", "ee.never.sent", "--output", "\(scratch.path)/out"],
            scratch: scratch.path)
        #expect(unknown.status != 0)
        #expect(unknown.errors.contains("there is no stream ee.never.sent"), "\(unknown.errors)")
        // A failed restore leaves nothing that could pass for a copy.
        #expect(!FileManager.default.fileExists(atPath: "\(scratch.path)/out"))
        #expect(!FileManager.default.fileExists(atPath: "\(scratch.path)/out.partial"))
    }
}
