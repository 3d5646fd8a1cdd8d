import Foundation
import TestSupport
import Testing

/// The technician's report (issue 9), tried as the technician did: `saatkond dev`, 24 MiB sent and acknowledged,
/// `disk-01` to `disk-04` moved away (as unmounting four disks would), one more `send` to the stream. It used to be
/// refused only after recovery had taken the stream's segments for torn and removed them from the seven healthy
/// members: 24 MiB acknowledged, lost for good.
@Suite("Members moved away under a running appliance", .enabled(if: SaatkondExecutable.exists))
struct AbsentMembersTests {
    @Test("four disks moved away: the next send is refused naming them, nothing is deleted, all of it comes back")
    func fourDisksMovedAway() throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-absent-disks")
        defer { scratch.remove() }
        let state = "\(scratch.path)/state"
        let input = "\(scratch.path)/input.bin"
        let second = "\(scratch.path)/second.bin"
        try writeRandomFile(input, count: 24 << 20)
        try writeRandomFile(second, count: 300_000)
        let appliance = try DevAppliance(state: state, logs: scratch.path)
        defer { _ = appliance.stop() }
        let connect = ["--state", state, "--connect", "127.0.0.1:\(appliance.port)"]
        let stream = "ee.court.absent"
        let receipt = "\(scratch.path)/receipt"
        let sent = try runSaatkond(
            ["send"] + connect + ["--stream", stream, "--receipt", receipt, input], scratch: scratch.path)
        try #require(sent.status == 0, "send failed: \(sent.errors)")

        let disks = (0..<11).map { "\(state)/members/disk-\(String(format: "%02d", $0))" }
        let away = [1, 2, 3, 4]
        let before = try snapshot(disks, except: away)
        for index in away { try FileManager.default.moveItem(atPath: disks[index], toPath: "\(scratch.path)/\(index)") }
        // The sender waits out failing storage for its retry period: a short one here.
        let refused = try runSaatkond(
            ["send"] + connect + ["--give-up-after", "2", "--stream", stream, second], scratch: scratch.path)
        #expect(refused.status != 0, "a send with four of eleven disks away succeeded")
        let said = refused.errors + refused.output
        #expect(said.contains("member 1") && said.contains("member 4"), "the refusal does not name them: \(said)")
        #expect(try snapshot(disks, except: away) == before, "files on the seven present disks changed")

        for index in away { try FileManager.default.moveItem(atPath: "\(scratch.path)/\(index)", toPath: disks[index]) }
        let restored = "\(scratch.path)/restored.bin"
        let restore = try runSaatkond(
            ["restore"] + connect + ["--stream", stream, "--output", restored], scratch: scratch.path)
        #expect(restore.status == 0, "restore failed: \(restore.errors)")
        #expect(sameBytes(input, restored), "the 24 MiB acknowledged before the disks went away differ")
        let verified = try runSaatkond(
            ["verify", "--state", state, receipt, "--stream", stream, "--file", restored], scratch: scratch.path)
        #expect(verified.status == 0, "the receipt of the 24 MiB does not verify: \(verified.output)\(verified.errors)")
        let again = try runSaatkond(["send"] + connect + ["--stream", stream, second], scratch: scratch.path)
        #expect(again.status == 0, "the disks are back, yet: \(again.errors)")
    }

    /// The first disk is the one the development appliance looked at to decide whether to create an array: with it
    /// moved away, a restart labelled its empty place as a member of a new array, and then failed. One disk of
    /// eleven away is within the m − 1 = 2 that appends go on without: the send is taken, and when the disk is back
    /// it holds the old state but is not believed over the others.
    @Test("the first disk moved away across a restart: the appliance starts degraded, labels nothing anew, appends")
    func firstDiskMovedAwayAcrossRestart() throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-absent-first")
        defer { scratch.remove() }
        let state = "\(scratch.path)/state"
        let input = "\(scratch.path)/input.bin"
        let second = "\(scratch.path)/second.bin"
        try writeRandomFile(input, count: 3 << 20)
        try writeRandomFile(second, count: 100_000)
        var appliance = try DevAppliance(state: state, logs: scratch.path)
        var connect = ["--state", state, "--connect", "127.0.0.1:\(appliance.port)"]
        let stream = "ee.court.first"
        let sent = try runSaatkond(["send"] + connect + ["--stream", stream, input], scratch: scratch.path)
        try #require(sent.status == 0, "send failed: \(sent.errors)")
        #expect(appliance.stop() == 0)

        let first = "\(state)/members/disk-00"
        let away = "\(scratch.path)/disk-00"
        try FileManager.default.moveItem(atPath: first, toPath: away)
        appliance = try DevAppliance(state: state, logs: scratch.path)
        connect = ["--state", state, "--connect", "127.0.0.1:\(appliance.port)"]
        #expect(!FileManager.default.fileExists(atPath: first), "the first disk's place was created anew")
        let degradedSend = try runSaatkond(
            ["send"] + connect + ["--give-up-after", "2", "--stream", stream, second], scratch: scratch.path)
        #expect(degradedSend.status == 0, "a send with one disk of eleven away: \(degradedSend.errors)")
        let degraded = "\(scratch.path)/degraded.bin"
        let read = try runSaatkond(
            ["restore"] + connect + ["--stream", stream, "--output", degraded], scratch: scratch.path)
        #expect(read.status == 0, "a read with one disk of eleven away: \(read.errors)")
        #expect(try concatenation(input, second) == Data(contentsOf: URL(fileURLWithPath: degraded)))
        #expect(appliance.stop() == 0)

        try FileManager.default.moveItem(atPath: away, toPath: first)
        appliance = try DevAppliance(state: state, logs: scratch.path)
        defer { _ = appliance.stop() }
        connect = ["--state", state, "--connect", "127.0.0.1:\(appliance.port)"]
        let third = "\(scratch.path)/third.bin"
        try writeRandomFile(third, count: 100_000)
        let again = try runSaatkond(["send"] + connect + ["--stream", stream, third], scratch: scratch.path)
        #expect(again.status == 0, "the disk is back, yet: \(again.errors)")
        let restored = "\(scratch.path)/restored.bin"
        let whole = try runSaatkond(
            ["restore"] + connect + ["--stream", stream, "--output", restored], scratch: scratch.path)
        #expect(whole.status == 0, "\(whole.errors)")
        #expect(
            try concatenation(input, second, third) == Data(contentsOf: URL(fileURLWithPath: restored)),
            "the disk that missed the second send was believed over the others")
    }

    private func concatenation(_ paths: String...) throws -> Data {
        var data = Data()
        for path in paths { data += try Data(contentsOf: URL(fileURLWithPath: path)) }
        return data
    }

    /// Every file under the disks but `away` (their labels and streams; not their spare journals), by disk and path.
    private func snapshot(_ disks: [String], except away: [Int]) throws -> [String: Data] {
        var files: [String: Data] = [:]
        for (index, root) in disks.enumerated() where !away.contains(index) {
            let enumerator = try #require(FileManager.default.enumerator(atPath: root))
            while let relative = enumerator.nextObject() as? String {
                guard !relative.hasPrefix("journal-pool") else { continue }
                var isDirectory: ObjCBool = false
                let path = "\(root)/\(relative)"
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue
                else { continue }
                files["\(index)/\(relative)"] = try Data(contentsOf: URL(fileURLWithPath: path))
            }
        }
        return files
    }
}
