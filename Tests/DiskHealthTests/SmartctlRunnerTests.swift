import DiskHealth
import Foundation
import TestSupport
import Testing

/// The runner against real programs: smartctl itself on a loop device, and stand-ins that print a fixture with a
/// chosen exit status, or hang.
@Suite("smartctl runner", .serialized)
struct SmartctlRunnerTests {
    @Test(
        "smartctl on a loop device: it has no SMART, so the verdict is unknown, with smartctl's reason",
        .enabled(
            if: getuid() == 0 && Command.locate("smartctl") != nil && Command.locate("losetup") != nil,
            "needs root, smartctl (smartmontools) and losetup"))
    func loopDevice() throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-smartctl")
        defer { scratch.remove() }
        let image = try scratch.sparseFile(named: "disk.img", bytes: 64 << 20)
        let device = try Command.run("losetup", ["--find", "--show", image])
        defer { _ = try? Command.run("losetup", ["--detach", device]) }
        let summary = try SmartctlRunner().summary(device: device)
        #expect(summary.verdict == .unknown)
        #expect(summary.smartctlExitStatus.map { $0 & 0b111 != 0 } == true, "\(String(describing: summary))")
        #expect(summary.reasons.count == 1)
        #expect(summary.reasons.first?.contains(device) == true, "\(summary.reasons)")
        #expect(summary.reasons.first?.contains("exit bit") == true, "\(summary.reasons)")

        // With a device type forced, smartctl opens it and gets no answer to IDENTIFY: unknown again.
        let forced = try SmartctlRunner().summary(device: device, type: "sat")
        #expect(forced.verdict == .unknown)
        #expect(forced.reasons == ["smartctl could not open the device (exit bit 1)"])
    }

    @Test("the exit status of the program is what the verdict reads, and the JSON is its standard output")
    func exitStatus() throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-smartctl")
        defer { scratch.remove() }
        let fixture = Fixture.directory.appendingPathComponent("sata-hdd-seagate-exos-x16.json").path
        let fake = try Self.script(in: scratch, "cat '\(fixture)'; echo 'noise' >&2; exit 8")
        let summary = try SmartctlRunner(executable: fake).summary(device: "/dev/sdz")
        #expect(summary.verdict == .failing)
        #expect(summary.smartctlExitStatus == 8)
        #expect(summary.model == "ST16000NM001G-2KK103")

        let arguments = try Self.script(in: scratch, "echo \"$*\" > '\(scratch.path)/argv'; cat '\(fixture)'")
        _ = try SmartctlRunner(executable: arguments).summary(device: "/dev/sdz", type: "megaraid,3")
        let argv = try String(contentsOfFile: "\(scratch.path)/argv", encoding: .utf8)
        #expect(argv == "--json=c -a -d megaraid,3 /dev/sdz\n")
    }

    @Test("a smartctl that hangs is killed at the timeout; a missing one, or a bad device, is a clear error")
    func failures() throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-smartctl")
        defer { scratch.remove() }
        let hanging = try Self.script(in: scratch, "exec sleep 30")
        let start = ContinuousClock.now
        #expect(throws: SmartctlRunnerError.self) {
            try SmartctlRunner(executable: hanging, timeout: .seconds(1)).summary(device: "/dev/sdz")
        }
        #expect(ContinuousClock.now - start < .seconds(10))
        #expect(throws: SmartctlRunnerError.self) {
            try SmartctlRunner(executable: "\(scratch.path)/absent").summary(device: "/dev/sdz")
        }
        let silent = try Self.script(in: scratch, "exit 2")
        #expect(throws: SmartParseError.self) {
            try SmartctlRunner(executable: silent).summary(device: "/dev/sdz")
        }
        #expect(throws: SmartctlRunnerError.self) { try SmartctlRunner().summary(device: "-a") }
        #expect(throws: SmartctlRunnerError.self) { try SmartctlRunner().summary(device: "/dev/sda", type: "sat;x") }
    }

    private static func script(in scratch: ScratchDirectory, _ body: String) throws -> String {
        let path = "\(scratch.path)/fake-smartctl-\(UUID().uuidString)"
        try "#!/bin/sh\n\(body)\n".write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
        return path
    }
}
