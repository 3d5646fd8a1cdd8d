import CryptoPrimitives
import Foundation
import StoreCrashWriter
import StoreFormat
import StreamStore
import SystemPackage
import TestSupport
import Testing

@testable import ErasureStore

/// "Absent is not torn": a member that cannot be seen (moved away, unmounted, unlabelled, labelled for another
/// array, unreadable) may hold exactly what the others lack, so while one is absent the store deletes, truncates and
/// rewrites nothing it cannot decide about. Appends go on without at most m − 1 absent members; beyond that an
/// appender is refused with an error naming the members, reads serve what is decodable, and once the members are
/// back the stream is whole and takes appends again.
@Suite("AbsentMemberTests: nothing is deleted while a member is absent", .serialized)
struct AbsentMemberTests {
    static let stream = try! StreamName("ee.court.absent")

    /// The technician's case at 8 + 3: acknowledged segments, then four disks moved away (or, as root, four loop
    /// filesystems unmounted) under a store that is open, as `saatkond dev`'s is; one more append is tried.
    @Test("four of eleven members moved away: the append is refused naming them, nothing is deleted, all returns")
    func fourOfElevenMovedAway() throws {
        try fourOfEleven(unmounting: false)
    }

    @Test(
        "four of eleven loop filesystems unmounted: the append is refused naming them, nothing is deleted",
        .enabled(if: geteuid() == 0, "needs root to attach loop devices and mount filesystems"),
        .enabled(if: LoopFilesystem.toolsInstalled, "needs losetup, mkfs.ext4, mount and xfs_io (scripts/setup)"))
    func fourOfElevenUnmounted() throws {
        try fourOfEleven(unmounting: true)
    }

    private func fourOfEleven(unmounting: Bool) throws {
        let array = try ElevenMembers(loopFilesystems: unmounting)
        defer { array.remove() }
        let segment = array.geometry.segmentBytes
        let data = StreamPattern.bytes(seed: 71, offset: 0, count: 3 * segment + 300_000)
        let store = try array.open()
        let appender = try store.openAppender(for: Self.stream)
        try appender.append(Array(data[..<(2 * segment + 5000)]))
        _ = try appender.makeDurable()
        try appender.append(Array(data[(2 * segment + 5000)...]))
        #expect(try appender.makeDurable() == UInt64(data.count))
        appender.close()

        let away = [1, 2, 3, 4]
        let present = (0..<11).filter { !away.contains($0) }
        let before = try snapshot(array.members, only: present)
        try array.takeAway(away)
        let error = try #require(throws: StreamStorageError.self) { try store.openAppender(for: Self.stream) }
        #expect(error.kind == .unavailable)
        for member in away {
            #expect(error.description.contains("member \(member) at"), "the refusal does not name \(member): \(error)")
        }
        #expect(error.description.contains("lost its label"), "\(error)")
        #expect(!error.description.contains("member 0 at"), "a present member is named: \(error)")
        // A reader too: with more than m away, each segment may be complete on them, and a prefix served as the
        // stream would be taken for all of it.
        let unread = try #require(throws: StreamStorageError.self) { try store.openReader(for: Self.stream) }
        #expect(unread.description.contains("refusing to open a reader") && unread.description.contains("member 4 at"))
        let scrub = store.scrub()
        #expect(scrub.absentMembers == away)
        #expect(scrub.shardsRepaired == 0 && scrub.journalsRepaired == 0)
        #expect(throws: StreamStorageError.self, "an array with four of eleven members assembled") {
            try array.open()
        }
        #expect(try snapshot(array.members, only: present) == before, "files on the present members changed")

        try array.putBack(away)
        let whole = try array.open()
        #expect(try whole.openReader(for: Self.stream).readAll() == data)
        let again = try whole.openAppender(for: Self.stream)
        #expect(again.durableLength == UInt64(data.count))
        let more = StreamPattern.bytes(seed: 71, offset: UInt64(data.count), count: segment + 777)
        try again.append(more)
        _ = try again.makeDurable()
        again.close()
        #expect(try array.open().openReader(for: Self.stream).readAll() == data + more)
    }

    enum Absence: String, CaseIterable, CustomStringConvertible {
        case movedAway, unlabelled, otherArray, unreadable
        var description: String { rawValue }
    }

    /// One member of 4 + 2 absent in each of the ways that count, both under a store assembled before and in one
    /// assembled after. A torn segment waits (old code removed it at once, and the store before degraded writes
    /// refused the appender): with one of m = 2 absent, recovery decides it is torn (too few shards even counting
    /// the absent one's) and appends go on over it, on the six present members; committed segments are left as they
    /// are. Once back, the member missed writes: it is distrusted until its rebuild catches it up.
    @Test(
        "a member moved away, unlabelled, of another array or unreadable: appends go on without it; back, caught up",
        arguments: Absence.allCases)
    func oneMemberAbsent(_ absence: Absence) throws {
        // The victim holds a shard of the segment that will be torn (not member 0, which holds the stream's lock
        // file, created by a scrub where it is missing).
        let tornSegment: UInt64 = 3
        let placement = Placement(
            geometry: try ArrayGeometry(
                dataShards: 4, parityShards: 2, memberCount: 7, shardBytes: 256 << 10, blockBytes: 4096))
        let holders = (0..<6).map {
            placement.member(ofShard: $0, segment: tornSegment, stream: MemberRig.stream.rawValue)
        }
        let victim = try #require(holders.first { $0 != 0 })
        let scratch = try ScratchDirectory(prefix: "saatkond-absent-\(absence)")
        defer { scratch.remove() }
        let asRoot = geteuid() == 0 && LoopFilesystem.toolsInstalled
        // Root reads any directory whatever its mode: as root, a filesystem shut down is what cannot be read (EIO).
        let disk = absence == .unreadable && asRoot ? try LoopFilesystem(scratch: scratch, bytes: 32 << 20) : nil
        defer { disk?.remove() }
        let rig = try MemberRig(scratch: scratch, replacing: disk.map { [victim: $0.member] } ?? [:])
        let geometry = rig.store.geometry
        let segmentBytes = geometry.segmentBytes

        let acknowledged = tornSegment * UInt64(segmentBytes)
        let writer = try rig.store.openAppender(for: MemberRig.stream)
        let (promised, failure) = rig.appendUntilFailure(writer, upTo: acknowledged)
        try #require(failure == nil && promised == acknowledged, "\(failure as Any)")
        // A writer that died mid-segment: the next segment's shards reached some members only. The victim holds
        // one of those left.
        try writer.append(StreamPattern.bytes(seed: MemberRig.seed, offset: acknowledged, count: segmentBytes))
        writer.close()
        for member in holders.filter({ $0 != victim }).prefix(geometry.parityShards + 1) {
            try FileManager.default.removeItem(
                atPath: MemberLayout(root: rig.members[member]).shard(MemberRig.stream.rawValue, segment: tornSegment)
                    .string)
        }

        let present = (0..<7).filter { $0 != victim }
        let committed = try snapshot(rig.members, only: present).filter { path, _ in
            (0..<tornSegment).contains { path.hasSuffix("segment-\(String(format: "%016x", $0)).shard") }
        }
        let label = MemberLayout(root: rig.members[victim]).identity.string
        let victimRoot = rig.members[victim].string
        let other = try ArrayFixture(dataShards: 4, parityShards: 2, memberCount: 7)
        defer { other.remove() }
        let expectedReason: String
        switch absence {
        case .movedAway:
            try FileManager.default.moveItem(atPath: victimRoot, toPath: "\(scratch.path)/away")
            expectedReason = "lost its label"
        case .unlabelled:
            try FileManager.default.moveItem(atPath: label, toPath: "\(scratch.path)/label")
            expectedReason = "lost its label"
        case .otherArray:
            try FileManager.default.moveItem(atPath: label, toPath: "\(scratch.path)/label")
            try FileManager.default.copyItem(
                atPath: MemberLayout(root: other.members[victim]).identity.string, toPath: label)
            expectedReason = "another array"
        case .unreadable:
            if let disk {
                try disk.shutDown()
            } else {
                try FileManager.default.setAttributes([.posixPermissions: 0], ofItemAtPath: victimRoot)
            }
            expectedReason = "cannot be read"
        }
        // The store that was open before, and one assembled now (which leaves the member out by itself).
        var length = acknowledged
        for store in [rig.store, try ErasureCodedStore(members: rig.members, keys: rig.keys)] {
            let absent = store.absentMemberIndices()
            #expect(Array(absent.keys) == [victim], "\(absence): \(absent)")
            if store === rig.store {
                #expect(absent[victim]?.contains(expectedReason) == true, "\(absence): \(absent)")
            }
            let appender = try store.openAppender(for: MemberRig.stream)
            #expect(appender.durableLength == length, "\(absence): the torn segment was taken for committed")
            let (more, moreFailure) = rig.appendUntilFailure(appender, upTo: length + 300_000)
            #expect(moreFailure == nil, "\(absence): \(moreFailure as Any)")
            appender.close()
            length = more
            let reader = try store.openReader(for: MemberRig.stream)
            #expect(reader.length == length, "\(absence)")
            #expect(
                try reader.read(at: 0, count: Int(length))
                    == StreamPattern.bytes(seed: MemberRig.seed, offset: 0, count: Int(length)), "\(absence)")
            #expect(store.scrub().shardsRepaired == 0)
            #expect(
                try snapshot(rig.members, only: present).filter { committed[$0.key] != nil } == committed,
                "\(absence): committed shards on present members changed")
        }

        switch absence {
        case .movedAway:
            try FileManager.default.moveItem(atPath: "\(scratch.path)/away", toPath: victimRoot)
        case .unlabelled:
            try FileManager.default.moveItem(atPath: "\(scratch.path)/label", toPath: label)
        case .otherArray:
            try FileManager.default.removeItem(atPath: label)
            try FileManager.default.moveItem(atPath: "\(scratch.path)/label", toPath: label)
        case .unreadable:
            if let disk {
                try disk.unmount()
                try disk.mount()
            } else {
                try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: victimRoot)
            }
        }
        let store = try ErasureCodedStore(members: rig.members, keys: rig.keys)
        #expect(store.assembly.isComplete, "\(store.assembly)")
        // Back, it missed the writes: distrusted, and everything reads as the others hold it.
        #expect(store.distrustedMembers() == [victim], "\(absence)")
        try rig.expectReadable(length, from: rig.members, "\(absence), back")
        let rebuilt = try store.rebuild(member: victim)
        // The torn segment's shards are still there (the next appender's recovery, with every member present,
        // removes them): unrepairable, and no data, so they do not keep the member from being caught up.
        #expect(rebuilt.caughtUp, "\(absence): \(rebuilt)")
        #expect(rebuilt.unrepairable == ["\(MemberRig.stream) segment \(tornSegment)"], "\(absence): \(rebuilt)")
        #expect(store.distrustedMembers().isEmpty, "\(absence)")
        let appender = try store.openAppender(for: MemberRig.stream)
        #expect(appender.durableLength == length, "\(absence)")
        let (more, moreFailure) = rig.appendUntilFailure(appender, upTo: length + 200_000)
        #expect(moreFailure == nil)
        appender.close()
        try rig.expectReadable(more, from: rig.members, "\(absence)")
        // Caught up, the member carries its share: with two others gone everything still reads.
        let others = present.filter { $0 != 0 }.prefix(2)
        try rig.expectReadable(
            more, from: rig.members.enumerated().filter { !others.contains($0.offset) }.map(\.element),
            "\(absence), without \(Array(others))")
    }

    /// The rule itself: a segment whose missing shards are on an absent member is not torn. Two of its shards are
    /// damaged on present members and a third member is away: three of 4 + 2 unseen, so it has k shards only if the
    /// absent one holds its shard. Old code removed it, and with it acknowledged bytes, for good.
    @Test("a segment that may be complete on an absent member is not torn: refused, kept, and whole once it is back")
    func undecidedSegmentIsKept() throws {
        let fixture = try ArrayFixture()
        defer { fixture.remove() }
        let segmentBytes = fixture.geometry.segmentBytes
        let data = StreamPattern.bytes(seed: 73, offset: 0, count: 3 * segmentBytes)
        let appender = try fixture.open().openAppender(for: Self.stream)
        try appender.append(data)
        _ = try appender.makeDurable()
        appender.close()

        let last: UInt64 = 2
        let placement = Placement(geometry: fixture.geometry)
        let holders = (0..<fixture.geometry.shardsPerSegment).map {
            placement.member(ofShard: $0, segment: last, stream: Self.stream.rawValue)
        }
        let absent = holders[0]
        for member in holders[1...2] {
            try FileManager.default.removeItem(
                atPath: MemberLayout(root: fixture.members[member]).shard(Self.stream.rawValue, segment: last).string)
        }
        let present = (0..<7).filter { $0 != absent }
        let before = try snapshot(fixture.members, only: present)
        let remaining = fixture.members.enumerated().filter { $0.offset != absent }.map(\.element)
        let degraded = try fixture.open(remaining)

        let error = try #require(throws: StreamStorageError.self) { try degraded.openAppender(for: Self.stream) }
        #expect(error.description.contains("member \(absent)"), "\(error)")
        #expect(error.description.contains("segment \(last)") && error.description.contains("not torn"), "\(error)")
        // Reads serve what is decodable: the segments before it.
        let reader = try degraded.openReader(for: Self.stream)
        #expect(reader.length == last * UInt64(segmentBytes))
        #expect(try reader.readAll() == Array(data[..<(Int(last) * segmentBytes)]))
        #expect(try snapshot(fixture.members, only: present) == before, "files on the present members changed")

        let whole = try fixture.open()
        let resumed = try whole.openAppender(for: Self.stream)
        #expect(resumed.durableLength == UInt64(data.count), "the segment was taken for torn")
        resumed.close()
        #expect(try fixture.open().openReader(for: Self.stream).readAll() == data)
    }

    /// The writer killed with SIGKILL at random instants, then restarted with m members (or m + 1) moved away: it is
    /// refused, no file on the present members changes, and once they are back every promise holds.
    @Test("kill -9, then a restart with members missing: refused, nothing deleted; back, every promise holds")
    func killedWriterRestartedWithMembersMissing() throws {
        let rig = try CrashRig(seed: 0xAB5E_17, total: 8 << 20)
        defer { rig.remove() }
        let fixture = rig.fixture
        var random = SystemRandomNumberGenerator()
        for round in 0..<8 {
            try rig.killWriter(round: round)
            let count = fixture.geometry.parityShards + round % 2
            let away = Array((0..<fixture.geometry.memberCount).shuffled(using: &random).prefix(count)).sorted()
            let present = (0..<fixture.geometry.memberCount).filter { !away.contains($0) }
            let before = try snapshot(fixture.members, only: present)
            for member in away {
                try FileManager.default.moveItem(
                    atPath: fixture.members[member].string, toPath: "\(fixture.scratch.path)/away-\(member)")
            }
            let log = "\(fixture.scratch.path)/absent-\(round).out"
            let writer = try rig.startWriter(log: log)
            let status = writer.waitForExit(timeout: 60).map(exitCode(fromWaitStatus:))
            writer.terminate(grace: 0)
            let errors = (try? String(contentsOfFile: log + ".err", encoding: .utf8)) ?? ""
            #expect(status != 0 && status != nil, "round \(round): the writer ran with \(away) away")
            for member in away where count <= fixture.geometry.parityShards {
                #expect(errors.contains("member \(member)"), "round \(round): \(member) not named: \(errors)")
            }
            #expect(
                try snapshot(fixture.members, only: present) == before,
                "round \(round): files on the present members changed with \(away) away")
            for member in away {
                try FileManager.default.moveItem(
                    atPath: "\(fixture.scratch.path)/away-\(member)", toPath: fixture.members[member].string)
            }
            try rig.verify(losing: [])
        }
        try rig.finish()
    }
}

/// Every file under the members `only` (their label and streams; not the spare journals of their pools, which hold
/// no data and refill in the background), by member and path.
func snapshot(_ members: [FilePath], only indices: [Int]) throws -> [String: Data] {
    var files: [String: Data] = [:]
    for index in indices {
        let root = members[index].string
        guard let enumerator = FileManager.default.enumerator(atPath: root) else {
            throw TestSupportError("cannot list \(root)")
        }
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

/// An array of eleven members, 8 + 3 as in the appliance (128 KiB shards, so segments of 1 MiB), in directories
/// or, as root, each on a loop filesystem of its own; members are taken away by moving their directories aside or
/// by unmounting their filesystems, and put back.
final class ElevenMembers {
    let geometry: ArrayGeometry
    let keys: StorageKeys
    let members: [FilePath]
    private let scratch: ScratchDirectory
    private var disks: [LoopFilesystem] = []

    init(loopFilesystems: Bool) throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-eleven")
        self.scratch = scratch
        var disks: [LoopFilesystem] = []
        do {
            geometry = try ArrayGeometry(
                dataShards: 8, parityShards: 3, memberCount: 11, shardBytes: 128 << 10, blockBytes: 4096)
            if loopFilesystems {
                for _ in 0..<11 { disks.append(try LoopFilesystem(scratch: scratch, bytes: 32 << 20)) }
                members = disks.map(\.member)
            } else {
                members = (0..<11).map { FilePath("\(scratch.path)/disk-\(String(format: "%02d", $0))") }
            }
            let privateKey = try X25519PrivateKey()
            keys = try StorageKeys(
                storagePublicKey: privateKey.publicKey, storagePrivateKey: privateKey,
                journalKey: try CryptoRandom.secretBytes(count: 32))
            _ = try ErasureCodedStore.create(members: members, geometry: geometry)
            self.disks = disks
        } catch {
            for disk in disks { disk.remove() }
            scratch.remove()
            throw error
        }
    }

    func open() throws -> ErasureCodedStore {
        try ErasureCodedStore(members: members, keys: keys)
    }

    func takeAway(_ indices: [Int]) throws {
        for index in indices {
            if disks.isEmpty {
                try FileManager.default.moveItem(atPath: members[index].string, toPath: "\(scratch.path)/away-\(index)")
            } else {
                // A spare journal being prepared in the background may hold the filesystem a moment.
                var attempts = 0
                while (try? disks[index].unmount()) == nil {
                    attempts += 1
                    if attempts == 50 { try disks[index].unmount() }
                    usleep(100_000)
                }
            }
        }
    }

    func putBack(_ indices: [Int]) throws {
        for index in indices {
            if disks.isEmpty {
                try FileManager.default.moveItem(atPath: "\(scratch.path)/away-\(index)", toPath: members[index].string)
            } else {
                try disks[index].mount()
            }
        }
    }

    func remove() {
        for disk in disks { disk.remove() }
        scratch.remove()
    }
}
