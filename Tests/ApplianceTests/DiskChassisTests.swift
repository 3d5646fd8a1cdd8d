import CryptoPrimitives
import Disks
import ErasureStore
import Foundation
import LocalControl
import StoreFormat
import Synchronization
import SystemPackage
import TestSupport
import Testing

/// `saatkond dev --loop-bays 12` over real udev events, loop devices and XFS mounts: the disks service forms the
/// array, follows pulls and inserts, adopts, rebuilds, scrubs, and guards removals, while streams are sent.
@Suite(
    "Disks over a loop-device chassis", .serialized,
    .enabled(if: LoopChassis.usable, "needs root, losetup, udevadm, systemd-udevd, mkfs.xfs, blkid and mount"))
struct DiskChassisTests {
    @Test("12 blank disks: an 8 + 3 array with one spare, each disk in its bay, recorded in the custody log")
    func formation() throws {
        let chassis = try LoopChassis()
        defer { chassis.remove() }
        let status = try chassis.waitUntilFormed()
        for bay in 1...11 {
            let disk = try #require(chassis.disk(inBay: bay, status))
            #expect(disk.identity == String(format: "serial-DEV-%02d", bay))
            #expect(disk.state == "member" && disk.member == bay - 1, "\(disk)")
        }
        #expect(chassis.disk(inBay: 12, status)?.state == "spare")
        #expect(status.array.redundancyMargin == 3)
        #expect(status.alarms.isEmpty, "\(status.alarms)")
        #expect(chassis.custodyLog.contains("\"array-formed\""))
        #expect(try FileManager.default.contentsOfDirectory(atPath: chassis.membersRoot).count == 11)
    }

    @Test("a member pulled while streams are sent goes missing within a second; a blank disk in its bay is rebuilt")
    func pullWhileSending() throws {
        let chassis = try LoopChassis()
        defer { chassis.remove() }
        _ = try chassis.waitUntilFormed()
        let files = try (0..<6).map { index -> String in
            let file = "\(chassis.scratch.path)/data-\(index)"
            try writeRandomFile(file, count: 6 << 20 + index * 4099)
            return file
        }
        let results = Mutex<[Int: CommandResult]>([:])
        let (state, port, scratch) = (chassis.state, chassis.port, chassis.scratch.path)
        let sender = Thread {
            for (index, file) in files.enumerated() {
                let arguments = [
                    "send", "--state", state, "--connect", "127.0.0.1:\(port)", "--stream", "ee.disks.pull.\(index)",
                    "--give-up-after", "120", file,
                ]
                let result =
                    (try? runSaatkond(arguments, scratch: scratch, timeout: 200))
                    ?? CommandResult(status: -1, errors: "did not run")
                results.withLock { $0[index] = result }
            }
        }
        sender.start()
        while results.withLock({ $0.count }) < 2 { usleep(20_000) }

        try chassis.rig.pull(bay: 5)
        let missing = try chassis.waitFor("member 4 to go missing", timeout: .seconds(10)) { status in
            status.away.contains { $0.identity == "serial-DEV-05" && $0.state == "missing" }
        }
        #expect(missing.after < .seconds(1), "the pull took \(missing.after) to be seen")
        #expect(missing.status.alarms.contains { $0.key == "missing-4" })

        _ = try chassis.rig.makeDisk(serial: "NEW-05", bytes: 1 << 30)
        _ = try chassis.rig.insert(serial: "NEW-05", bay: 5)
        let rebuilt = try chassis.waitFor("the replacement to be rebuilt", timeout: .seconds(180)) { status in
            chassis.disk(inBay: 5, status)?.state == "member"
        }
        #expect(chassis.disk(inBay: 5, rebuilt.status)?.member == 4)
        #expect(rebuilt.status.array.redundancyMargin == 3)
        #expect(rebuilt.status.alarms.isEmpty, "\(rebuilt.status.alarms)")

        while results.withLock({ $0.count }) < files.count { usleep(50_000) }
        for (index, file) in files.enumerated() {
            let result = try #require(results.withLock { $0[index] })
            #expect(result.status == 0, "send \(index): \(result.errors)")
            let output = "\(chassis.scratch.path)/restored-\(index)"
            let restore = try chassis.restore(stream: "ee.disks.pull.\(index)", to: output)
            #expect(restore.status == 0, "\(restore.errors)")
            #expect(sameBytes(file, output), "stream \(index) differs after the rebuild")
        }
        #expect(chassis.custodyLog.contains("\"member-adopted\"") && chassis.custodyLog.contains("\"member-rebuilt\""))
    }

    @Test("a foreign disk and a disk with a file system of its own are left untouched, reported and recorded")
    func foreignAndOccupiedDisks() throws {
        let chassis = try LoopChassis()
        defer { chassis.remove() }
        _ = try chassis.waitUntilFormed()
        try chassis.rig.pull(bay: 12)
        try chassis.waitFor("the spare to leave") { chassis.disk(inBay: 12, $0) == nil }

        let foreign = try chassis.rig.makeDisk(serial: "FOREIGN-1", bytes: 512 << 20)
        try Self.labelAsAnotherArraysMember(foreign.string, scratch: chassis.scratch.path)
        let before = try Command.run("sha256sum", [foreign.string])
        _ = try chassis.rig.insert(serial: "FOREIGN-1", bay: 12)
        let seen = try chassis.waitFor("the foreign disk") { chassis.disk(inBay: 12, $0) != nil }.status
        #expect(
            chassis.disk(inBay: 12, seen)?.state == "foreign", "\(String(describing: chassis.disk(inBay: 12, seen)))")
        #expect(seen.alarms.contains { $0.key == "bay-12" })
        let refused = try chassis.refusal("adopt", ["bay": 12])
        #expect(refused?.contains("signed by home") == true, "\(String(describing: refused))")
        try chassis.rig.pull(bay: 12)
        try chassis.waitFor("the foreign disk to leave") { chassis.disk(inBay: 12, $0) == nil }
        #expect(try Command.run("sha256sum", [foreign.string]) == before, "the foreign disk was written to")

        let occupied = try chassis.rig.makeDisk(serial: "EXT4-1", bytes: 512 << 20)
        try Command.run("mkfs.ext4", ["-q", "-F", occupied.string])
        let occupiedBefore = try Command.run("sha256sum", [occupied.string])
        _ = try chassis.rig.insert(serial: "EXT4-1", bay: 12)
        let other = try chassis.waitFor("the ext4 disk") { chassis.disk(inBay: 12, $0) != nil }.status
        #expect(chassis.disk(inBay: 12, other)?.state == "occupied")
        try chassis.rig.pull(bay: 12)
        try chassis.waitFor("the ext4 disk to leave") { chassis.disk(inBay: 12, $0) == nil }
        #expect(try Command.run("sha256sum", [occupied.string]) == occupiedBefore, "the ext4 disk was written to")
        let log = chassis.custodyLog
        #expect(
            log.contains("\"adoption-refused\"") && log.contains("serial-FOREIGN-1") && log.contains("serial-EXT4-1"))
    }

    /// Formats `image` as the appliance would and labels it member 0 of a new two-member array of its own.
    static func labelAsAnotherArraysMember(_ image: String, scratch: String) throws {
        try Command.run("mkfs.xfs", ["-q", "-L", "saatkond", image])
        let mountPoint = "\(scratch)/foreign-mount"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        try Command.run("mount", ["-o", "loop", image, mountPoint])
        defer { _ = try? Command.run("umount", [mountPoint]) }
        let other = "\(scratch)/foreign-other"
        _ = try ErasureCodedStore.create(
            members: [FilePath("\(mountPoint)/m"), FilePath(other)],
            geometry: try ArrayGeometry(dataShards: 1, parityShards: 1, memberCount: 2))
        try FileManager.default.moveItem(
            atPath: "\(mountPoint)/m/saatkond-member", toPath: "\(mountPoint)/saatkond-member")
        try FileManager.default.removeItem(atPath: "\(mountPoint)/m")
    }

    @Test("m + 1 members pulled: appends refused clearly, nothing deleted; back in their bays, every byte restores")
    func tooManyPulled() throws {
        let chassis = try LoopChassis()
        defer { chassis.remove() }
        _ = try chassis.waitUntilFormed()
        let file = "\(chassis.scratch.path)/data"
        try writeRandomFile(file, count: 20 << 20 + 12345)
        #expect(try chassis.send(file, stream: "ee.disks.many").status == 0)

        for bay in 1...4 { try chassis.rig.pull(bay: bay) }
        try chassis.waitFor("four members missing") { $0.away.count == 4 }
        for bay in 1...4 {
            let label = "\(chassis.membersRoot)/serial-DEV-\(String(format: "%02d", bay))/saatkond-member"
            try chassis.waitFor("member \(bay - 1) unmounted") { _ in !FileManager.default.fileExists(atPath: label) }
        }
        let present = (5...11).map { "\(chassis.membersRoot)/serial-DEV-\(String(format: "%02d", $0))" }
        let before = try Self.contents(of: present)
        let more = "\(chassis.scratch.path)/more"
        try writeRandomFile(more, count: 1 << 20)
        let refused = try chassis.send(more, stream: "ee.disks.many.2", giveUpAfter: 3)
        #expect(refused.status != 0)
        #expect(refused.errors.contains("absent"), "\(refused.errors)")
        let partial = "\(chassis.scratch.path)/partial"
        let restore = try chassis.restore(stream: "ee.disks.many", to: partial)
        if restore.status == 0 {
            #expect(sameBytes(file, partial), "a restore with four members away returned wrong bytes")
        } else {
            #expect(restore.errors.contains("absent"), "\(restore.errors)")
        }
        let after = try Self.contents(of: present)
        for (path, digest) in before {
            #expect(after[path] == digest, "\(path) was deleted or rewritten while four members were away")
        }

        for bay in 1...4 { _ = try chassis.rig.insert(serial: String(format: "DEV-%02d", bay), bay: bay) }
        try chassis.waitFor("the members back", timeout: .seconds(120)) { status in
            status.array.wholeMembers == 11
        }
        let output = "\(chassis.scratch.path)/restored"
        #expect(try chassis.restore(stream: "ee.disks.many", to: output).status == 0)
        #expect(sameBytes(file, output))
        #expect(try chassis.send(more, stream: "ee.disks.many.2").status == 0)
    }

    /// Every file under `directories`, by path, with its SHA-256.
    static func contents(of directories: [String]) throws -> [String: String] {
        var digests: [String: String] = [:]
        for directory in directories {
            guard let walk = FileManager.default.enumerator(atPath: directory) else { continue }
            // Spare journal files are taken by any new journal: they hold nothing yet.
            for case let name as String in walk where !name.hasPrefix("journal-pool") {
                let path = "\(directory)/\(name)"
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue
                else { continue }
                let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
                digests[path] = SHA256.hash(bytes).map { String(format: "%02x", $0) }.joined()
            }
        }
        return digests
    }

    @Test("the service restarted mid-rebuild: the rebuild resumes where it was")
    func restartMidRebuild() throws {
        let chassis = try LoopChassis(extraArguments: ["--rebuild-rate", "4M"])
        defer { chassis.remove() }
        _ = try chassis.waitUntilFormed()
        let file = "\(chassis.scratch.path)/data"
        try writeRandomFile(file, count: 96 << 20)
        #expect(try chassis.send(file, stream: "ee.disks.resume").status == 0)
        try chassis.rig.pull(bay: 7)
        try chassis.waitFor("member 6 missing") { $0.away.contains { $0.state == "missing" } }
        _ = try chassis.rig.makeDisk(serial: "NEW-07", bytes: 1 << 30)
        _ = try chassis.rig.insert(serial: "NEW-07", bay: 7)
        try chassis.waitFor("the rebuild to be under way", timeout: .seconds(120)) { status in
            (status.rebuild?.segmentsDone ?? 0) >= 2
        }
        try chassis.restart()
        let done = try chassis.waitFor("the rebuild to finish after the restart", timeout: .seconds(180)) { status in
            chassis.disk(inBay: 7, status)?.state == "member"
        }.status
        let last = try #require(done.lastRebuild)
        #expect((last.shardsAlreadyIntact ?? 0) > 0, "the resumed rebuild found nothing of its earlier work: \(last)")
        let output = "\(chassis.scratch.path)/restored"
        #expect(try chassis.restore(stream: "ee.disks.resume", to: output).status == 0)
        #expect(sameBytes(file, output))
    }

    @Test("a scheduled scrub finds and repairs a damaged shard on its own, and says so")
    func scheduledScrub() throws {
        let chassis = try LoopChassis(extraArguments: ["--scrub-every", "3s"])
        defer { chassis.remove() }
        _ = try chassis.waitUntilFormed()
        let file = "\(chassis.scratch.path)/data"
        try writeRandomFile(file, count: 24 << 20)
        #expect(try chassis.send(file, stream: "ee.disks.scrub").status == 0)
        let member = "\(chassis.membersRoot)/serial-DEV-03/streams/ee.disks.scrub"
        let shard = try #require(
            try FileManager.default.contentsOfDirectory(atPath: member).sorted().first { $0.hasSuffix(".shard") })
        let handle = try #require(FileHandle(forUpdatingAtPath: "\(member)/\(shard)"))
        try handle.seek(toOffset: 200_000)
        try handle.write(contentsOf: Data(repeating: 0xA5, count: 512))
        try handle.synchronize()
        try handle.close()
        let before = try chassis.status().scrub.scrubsCompleted
        let scrubbed = try chassis.waitFor("a scrub that repairs", timeout: .seconds(60)) { status in
            status.scrub.scrubsCompleted > before && (status.scrub.shardsRepaired ?? 0) >= 1
        }.status
        #expect(scrubbed.scrub.lastReport?.contains("repaired") == true)
        let output = "\(chassis.scratch.path)/restored"
        #expect(try chassis.restore(stream: "ee.disks.scrub", to: output).status == 0)
        #expect(sameBytes(file, output))
    }

    @Test("prepare for removal: refused where the pull could lose data; else the bay is located and its pull is quiet")
    func prepareForRemoval() throws {
        let chassis = try LoopChassis()
        defer { chassis.remove() }
        _ = try chassis.waitUntilFormed()
        let answer = try chassis.order("prepare-removal", ["bay": 4])
        #expect(answer["ok"] == true, "\(answer)")
        let led = try String(contentsOfFile: chassis.rig.indicatorFile(bay: 4).string, encoding: .utf8)
        #expect(led.trimmingCharacters(in: .whitespacesAndNewlines) == "locate")
        #expect(!FileManager.default.fileExists(atPath: "\(chassis.membersRoot)/serial-DEV-04/saatkond-member"))
        try chassis.rig.pull(bay: 4)
        let quiet = try chassis.waitFor("the prepared disk to leave") { chassis.disk(inBay: 4, $0) == nil }.status
        #expect(quiet.alarms.isEmpty, "\(quiet.alarms)")

        try chassis.rig.pull(bay: 5)
        try chassis.waitFor("member 4 missing") { $0.away.contains { $0.state == "missing" } }
        let refused = try chassis.refusal("prepare-removal", ["bay": 6])
        #expect(refused?.contains("would leave 8 whole members") == true, "\(String(describing: refused))")
        #expect(FileManager.default.fileExists(atPath: "\(chassis.membersRoot)/serial-DEV-06/saatkond-member"))
    }
}
