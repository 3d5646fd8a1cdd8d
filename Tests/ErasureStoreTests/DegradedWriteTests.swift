import CryptoPrimitives
import DurableFiles
import Foundation
import StoreCrashWriter
import StoreFormat
import StreamStore
import Synchronization
import SystemPackage
import TestSupport
import Testing

@testable import ErasureStore

/// Appends go on while at most m − 1 members are absent, to the members present; a member that comes back holds
/// what it held before, and none of it is believed over the others until a rebuild has caught it up (issue 12).
@Suite(
    "Degraded writes: appends go on without m − 1 members, and a member back never wins with stale data", .serialized)
struct DegradedWriteTests {
    static let stream = try! StreamName("ee.population.degraded")

    @Test("8 + 3: one, then two members moved away during a long append; every acknowledged byte reads back after")
    func twoOfElevenMovedAwayDuringAppend() throws {
        try awayDuringAppend(xfs: false)
    }

    @Test(
        "8 + 3: two XFS members lazily unmounted during a long append and mounted again; every acknowledged byte stays",
        .enabled(if: geteuid() == 0, "needs root to attach loop devices and mount filesystems"),
        .enabled(if: XFSDisk.toolsInstalled, "needs losetup, mkfs.xfs, mount and umount"))
    func twoOfElevenUnmountedDuringAppend() throws {
        try awayDuringAppend(xfs: true)
    }

    /// A writer appends without pause (small appends journaled, large ones sealed) while member 2 goes away, then
    /// member 7 (m − 1 = 2 at 8 + 3); both come back while it goes on. Nothing fails; every acknowledged byte reads
    /// back, with the two distrusted; rebuilt, they are trusted again, and any three others may then be lost.
    private func awayDuringAppend(xfs: Bool) throws {
        let array = try PullableArray(
            dataShards: 8, parityShards: 3, memberCount: 11, shardBytes: 128 << 10, xfs: xfs ? [2, 7] : [])
        defer { array.remove() }
        let store = try array.open()
        defer { store.shutdown() }
        let appender = try store.openAppender(for: Self.stream)
        let writer = BackgroundAppender(appender, seed: 0xDE6_2A0E)
        let step: UInt64 = 3 << 20
        try writer.waitFor(step)
        try array.pull(2)
        try writer.waitFor(writer.acknowledged + step)
        try array.pull(7)
        #expect(Set(store.absentMemberIndices().keys) == [2, 7])
        try writer.waitFor(writer.acknowledged + step)
        try array.putBack(2)
        try array.putBack(7)
        try writer.waitFor(writer.acknowledged + step)
        let (acknowledged, failure) = writer.stop()
        #expect(failure == nil, "appending stopped with two of eleven members away: \(failure as Any)")
        appender.close()

        #expect(store.absentMemberIndices().isEmpty)
        #expect(store.distrustedMembers() == [2, 7], "the members that missed writes are not recorded as such")
        try expectPattern(acknowledged, seed: 0xDE6_2A0E, in: array.open(), "with both back")
        for member in [2, 7] {
            let report = try store.rebuild(member: member)
            #expect(report.caughtUp && report.unrepairable.isEmpty, "member \(member): \(report)")
            #expect(report.shardsWritten > 0 && report.shardsAlreadyIntact > 0, "member \(member): \(report)")
        }
        #expect(store.distrustedMembers().isEmpty)
        // Caught up, they carry their share: any three others may go.
        try expectPattern(acknowledged, seed: 0xDE6_2A0E, in: array.open(without: [0, 4, 9]), "without 0, 4 and 9")
        try expectPattern(acknowledged, seed: 0xDE6_2A0E, in: array.open(without: [1, 5, 10]), "without 1, 5 and 10")
    }

    /// m absent at 8 + 3 is one more than appends go on without: the next segment is refused with the error naming
    /// the three, and nothing acknowledged before is touched; back, the stream takes appends again.
    @Test("8 + 3: three members moved away under an appender: refused naming them, nothing present rewritten")
    func threeOfElevenRefused() throws {
        let array = try PullableArray(dataShards: 8, parityShards: 3, memberCount: 11, shardBytes: 128 << 10)
        defer { array.remove() }
        let store = try array.open()
        defer { store.shutdown() }
        let segment = store.geometry.segmentBytes
        let data = StreamPattern.bytes(seed: 31, offset: 0, count: 6 * segment + 70_000)
        let appender = try store.openAppender(for: Self.stream)
        try appender.append(Array(data[..<(3 * segment + 5_000)]))
        let acknowledged = try appender.makeDurable()
        let away = [1, 5, 9]
        let present = (0..<11).filter { !away.contains($0) }
        let shards = try snapshot(array.members, only: present).filter { $0.key.hasSuffix(".shard") }
        for member in away { try array.pull(member) }

        try appender.append(Array(data[(3 * segment + 5_000)...]))
        let error = try #require(throws: StreamStorageError.self) { try appender.makeDurable() }
        #expect(error.kind == .unavailable, "\(error)")
        for member in away { #expect(error.description.contains("member \(member) at"), "\(error)") }
        #expect(error.description.contains("at most 2 absent"), "\(error)")
        appender.close()
        let refused = try #require(throws: StreamStorageError.self) { try store.openAppender(for: Self.stream) }
        #expect(refused.kind == .unavailable && refused.description.contains("member 5 at"), "\(refused)")
        #expect(store.scrub().shardsRepaired == 0)
        let after = try snapshot(array.members, only: present)
        #expect(after.filter { shards[$0.key] != nil } == shards, "shards on the present members were rewritten")
        try expectPattern(acknowledged, seed: 31, in: store, "with three away")

        for member in away { try array.putBack(member) }
        let again = try store.openAppender(for: Self.stream)
        #expect(again.durableLength >= acknowledged)
        let held = Int(again.durableLength)
        try again.append(Array(data[held...]))
        #expect(try again.makeDurable() == UInt64(data.count))
        again.close()
        #expect(try array.open().openReader(for: Self.stream).readAll() == data)
    }

    /// The crash writer killed with SIGKILL at random instants while a member is away (4 + 2: one may be), then
    /// recovery with it still away and with it back, as distrusted, or caught up by a rebuild every third round.
    @Test("kill -9 of a writer with a member away, then recovery with it back: nothing acknowledged is lost")
    func killedWhileDegraded() throws {
        let rig = try CrashRig(seed: 0xDE6_C0DE, total: 10 << 20)
        defer { rig.remove() }
        let fixture = rig.fixture
        var refusals = 0
        for round in 0..<12 {
            let away = Int(rig.random.next() % 7)
            let aside = "\(fixture.scratch.path)/away-\(away)"
            try FileManager.default.moveItem(atPath: fixture.members[away].string, toPath: aside)
            // A torn segment left by the previous kill may have k shards counting the absent one's: then recovery
            // cannot decide without it, and the writer is refused until it is back.
            if !(try rig.killWriter(round: round, refusalAllowed: true)) { refusals += 1 }
            do {
                try rig.verify(losing: [])
            } catch {
                // Only where the writer would be refused too: the journal's trusted copies all on the member away.
                let refusedRead = "\(error)".contains("refusing to open a reader")
                #expect(refusedRead, "round \(round), member \(away) away: \(error)")
                if !refusedRead { throw error }
            }
            try FileManager.default.moveItem(atPath: aside, toPath: fixture.members[away].string)
            try rig.verify(losing: [])
            if round % 3 == 2 {
                let store = try fixture.open()
                for member in store.distrustedMembers().sorted() {
                    let report = try store.rebuild(member: member)
                    #expect(report.caughtUp, "round \(round), member \(member): \(report)")
                }
                #expect(store.distrustedMembers().isEmpty, "round \(round)")
            }
        }
        print("killedWhileDegraded: \(refusals) of 12 writers refused until the member was back")
        try rig.finish()
        let store = try fixture.open()
        for member in store.distrustedMembers().sorted() { _ = try store.rebuild(member: member) }
        #expect(store.distrustedMembers().isEmpty)
        try rig.verify(losing: [1, 4])
    }

    /// The case the journal's ordering by length cannot decide: a writer wrote record 1 (X) everywhere and died
    /// before its flush, and only one copy kept it; that member went away, and the next writer acknowledged Y, as
    /// long as X, at the same offset. Back, the member's copy is as long as the others' and authenticates: only the
    /// record that it missed writes keeps X from being read.
    @Test("a member back with a torn journal record as long as the newer one acknowledged: the newer one wins")
    func tornSameLengthJournalRecord() throws {
        let fixture = try ArrayFixture()
        defer { fixture.remove() }
        let store = try fixture.open()
        let first = StreamPattern.bytes(seed: 41, offset: 0, count: 5_000)
        let x = StreamPattern.bytes(seed: 42, offset: 5_000, count: 3_000)
        let y = StreamPattern.bytes(seed: 43, offset: 5_000, count: 3_000)
        let z = StreamPattern.bytes(seed: 44, offset: 8_000, count: 2_000)
        let appender = try store.openAppender(for: Self.stream)
        try appender.append(first)
        #expect(try appender.makeDurable() == 5_000)
        appender.close()

        let placed = store.placement.journalMembers(segment: 0, stream: Self.stream.rawValue)
        // The lowest-numbered copy: of two copies as long, that is the one taken unless something says it is stale.
        let victim = placed.min()!
        let path = MemberLayout(root: fixture.members[victim]).journal(Self.stream.rawValue, segment: 0)
        let copy = try FileSystemCalls.readAll(path)
        let (header, headerLength) = try JournalHeader.decode(copy)
        let (records, valid) = JournalRecord.parseAll(copy, from: headerLength, header: header)
        try #require(records.count == 1)
        let key = try header.recordKey(journalKey: fixture.keys.journalKey)
        let torn = try x.withUnsafeBytes { try JournalRecord.seal($0, at: 5_000, index: 1, header: header, key: key) }
        try (Array(copy[..<valid]) + torn).withUnsafeBytes { try FileSystemCalls.writeAtomically($0, to: path) }
        let aside = "\(fixture.scratch.path)/away"
        try FileManager.default.moveItem(atPath: fixture.members[victim].string, toPath: aside)

        let degraded = try store.openAppender(for: Self.stream)
        #expect(degraded.durableLength == 5_000)
        try degraded.append(y)
        #expect(try degraded.makeDurable() == 8_000)
        degraded.close()
        #expect(try store.openReader(for: Self.stream).readAll() == first + y)

        try FileManager.default.moveItem(atPath: aside, toPath: fixture.members[victim].string)
        let back = try fixture.open()
        #expect(back.distrustedMembers() == [victim])
        let stale = back.readJournalCopies(stream: Self.stream.rawValue, segment: 0, distrusted: [])
        #expect(
            stale.contains { $0.member == victim && $0.plaintextBytes == 8_000 },
            "the member back should hold a copy as long as the others'")
        #expect(try back.openReader(for: Self.stream).readAll() == first + y, "the stale record was read")
        let resumed = try back.openAppender(for: Self.stream)
        #expect(resumed.durableLength == 8_000)
        try resumed.append(z)
        #expect(try resumed.makeDurable() == 10_000)
        resumed.close()
        #expect(try back.openReader(for: Self.stream).readAll() == first + y + z)
        let report = try back.rebuild(member: victim)
        #expect(report.caughtUp, "\(report)")
        #expect(back.distrustedMembers().isEmpty)
        // The member's copy is the journal now: with every other copy gone, it alone holds the tail.
        for member in placed where member != victim {
            try FileManager.default.removeItem(
                atPath: MemberLayout(root: fixture.members[member]).journal(Self.stream.rawValue, segment: 0).string)
        }
        #expect(try fixture.open().openReader(for: Self.stream).readAll() == first + y + z)
    }

    /// A member away holds a shard of a torn write of segment 2, whole by its own checksums; the segment is written
    /// again (other bytes) without it. Back, its old shard must never count: not in a read, and not as "intact" to a
    /// rebuild, which would keep it and leave the segment one shard short of what the others believe.
    @Test("a member back with an old, self-consistent shard of a segment written again: rebuilt, never kept or read")
    func staleShardOfRewrittenSegment() throws {
        let fixture = try ArrayFixture()
        defer { fixture.remove() }
        let store = try fixture.open()
        defer { store.shutdown() }
        let segmentBytes = fixture.geometry.segmentBytes
        let committed = StreamPattern.bytes(seed: 51, offset: 0, count: 2 * segmentBytes)
        let placement = store.placement
        let holders = (0..<6).map { placement.member(ofShard: $0, segment: 2, stream: Self.stream.rawValue) }
        let victim = holders[1]
        do {
            let appender = try store.openAppender(for: Self.stream)
            try appender.append(committed)
            _ = try appender.makeDurable()
            // Written, never made durable: a writer that died while segment 2's shards were on their way.
            try appender.append(StreamPattern.bytes(seed: 52, offset: UInt64(2 * segmentBytes), count: segmentBytes))
            appender.close()
        }
        // Only the victim's shard and one other survived the power cut: torn.
        for member in holders where member != victim && member != holders[4] {
            try FileManager.default.removeItem(
                atPath: MemberLayout(root: fixture.members[member]).shard(Self.stream.rawValue, segment: 2).string)
        }
        let aside = "\(fixture.scratch.path)/away"
        try FileManager.default.moveItem(atPath: fixture.members[victim].string, toPath: aside)
        let newer = StreamPattern.bytes(seed: 53, offset: UInt64(2 * segmentBytes), count: segmentBytes + 40_000)
        do {
            let appender = try store.openAppender(for: Self.stream)
            #expect(appender.durableLength == UInt64(2 * segmentBytes), "the torn segment was taken for committed")
            try appender.append(newer)
            #expect(try appender.makeDurable() == UInt64(3 * segmentBytes + 40_000))
            appender.close()
        }
        try FileManager.default.moveItem(atPath: aside, toPath: fixture.members[victim].string)

        let back = try fixture.open()
        defer { back.shutdown() }
        #expect(back.distrustedMembers() == [victim])
        #expect(try back.openReader(for: Self.stream).readAll() == committed + newer)
        let report = try back.rebuild(member: victim)
        #expect(report.caughtUp, "\(report)")
        #expect(report.shardsWritten >= 1, "the old shard of segment 2 was kept as intact: \(report)")
        // With the victim caught up, two other holders of segment 2 may go.
        let lost = holders.filter { $0 != victim }.prefix(2)
        let survivors = fixture.members.enumerated().filter { !lost.contains($0.offset) }.map(\.element)
        #expect(try fixture.open(survivors).openReader(for: Self.stream).readAll() == committed + newer)
    }

    @Test(
        "a replacement adopted under a new name in the member root joins a running appender, and is rebuilt meanwhile")
    func replacementJoinsRunningAppender() throws {
        try replacementJoins(xfs: false)
    }

    @Test(
        "a replacement XFS disk mounted under a new name in the member root joins a running appender",
        .enabled(if: geteuid() == 0, "needs root to attach loop devices and mount filesystems"),
        .enabled(if: XFSDisk.toolsInstalled, "needs losetup, mkfs.xfs, mount and umount"))
    func replacementDiskJoinsRunningAppender() throws {
        try replacementJoins(xfs: true)
    }

    /// As `saatkond dev` and `saatkond disks` would: ingest appends through a store opened on the member root; a
    /// disk is pulled (its directory leaves the root, or its filesystem is lazily unmounted); the disks service,
    /// with a store of its own and no private key, adopts a blank replacement mounted under a new name and rebuilds
    /// it while ingest appends, which writes its new segments to the replacement as soon as it appears.
    private func replacementJoins(xfs: Bool) throws {
        let array = try RootedArray(xfs: xfs)
        defer { array.remove() }
        let ingest = try ErasureCodedStore(memberRoot: array.root, keys: array.keys)
        defer { ingest.shutdown() }
        let disks = try ErasureCodedStore(memberRoot: array.root, keys: array.writerOnlyKeys)
        defer { disks.shutdown() }
        let pulled = 3
        let appender = try ingest.openAppender(for: Self.stream)
        let writer = BackgroundAppender(appender, seed: 0x2E_9ACE)
        try writer.waitFor(2 << 20)
        try array.pull(pulled)
        try writer.waitFor(writer.acknowledged + (2 << 20))
        #expect(ingest.absentMemberIndices()[pulled] != nil)

        let replacement = try array.insertBlank(named: "replacement-\(UUID().uuidString)")
        try disks.adoptReplacement(replacement, as: pulled)
        try wait("the replacement to join the appending store") { ingest.memberDirectories[pulled] == replacement }
        try wait("the disks store to see it") { disks.memberDirectories[pulled] == replacement }
        try writer.waitFor(writer.acknowledged + (2 << 20))
        let shardsWritten =
            (try? FileManager.default.contentsOfDirectory(
                atPath: MemberLayout(root: replacement).streamDirectory(Self.stream.rawValue).string)) ?? []
        #expect(shardsWritten.contains { $0.hasSuffix(".shard") }, "the appender wrote nothing to the replacement")

        var updates: [RebuildProgress] = []
        let during = try disks.rebuild(member: pulled, bytesPerSecond: 64 << 20) { updates.append($0) }
        #expect(during.unrepairable.isEmpty, "\(during)")
        #expect(during.shardsWritten > 0)
        #expect(updates.last.map { $0.segmentsDone == $0.segmentsTotal } == true)
        #expect(updates.last?.shardsAlreadyIntact == during.shardsAlreadyIntact)
        let (acknowledged, failure) = writer.stop()
        #expect(failure == nil, "\(failure as Any)")
        appender.close()

        // The rebuild that caught it while ingest appended left the open journal to ingest; once it is closed, the
        // next one finds the rest intact and trusts the member again.
        let after = try disks.rebuild(member: pulled)
        #expect(after.caughtUp, "\(after)")
        #expect(after.shardsAlreadyIntact >= during.shardsWritten, "\(after)")
        #expect(disks.distrustedMembers().isEmpty)
        try expectPattern(acknowledged, seed: 0x2E_9ACE, in: ingest, "with the replacement")
        try expectPattern(
            acknowledged, seed: 0x2E_9ACE, in: array.open(without: [0, 5]), "with the replacement, without 0 and 5")
    }

    /// The disks service opens its store on the members root whatever is mounted yet: with more than m positions
    /// missing it opens, appends and reads are refused naming them, and as they come back the same store takes them.
    @Test("a store on a members root opens with more than m members missing, refuses, and takes them as they return")
    func rootWithMostMembersMissing() throws {
        let array = try RootedArray(xfs: false)
        defer { array.remove() }
        let data = StreamPattern.bytes(seed: 61, offset: 0, count: 2_500_000)
        do {
            let store = try ErasureCodedStore(memberRoot: array.root, keys: array.keys)
            defer { store.shutdown() }
            let appender = try store.openAppender(for: Self.stream)
            try appender.append(data)
            _ = try appender.makeDurable()
            appender.close()
        }
        for member in [1, 2, 5] { try array.pull(member) }
        let store = try ErasureCodedStore(memberRoot: array.root, keys: array.keys)
        defer { store.shutdown() }
        #expect(store.assembly.missing == [1, 2, 5])
        #expect(Set(store.absentMemberIndices().keys) == [1, 2, 5])
        let refused = try #require(throws: StreamStorageError.self) { try store.openAppender(for: Self.stream) }
        #expect(refused.kind == .unavailable && refused.description.contains("member 5"), "\(refused)")
        #expect(throws: StreamStorageError.self) { try store.openReader(for: Self.stream).readAll() }

        for member in [1, 2, 5] { try array.putBack(member) }
        usleep(150_000)
        #expect(store.absentMemberIndices().isEmpty)
        #expect(try store.openReader(for: Self.stream).readAll() == data)
        let more = StreamPattern.bytes(seed: 61, offset: UInt64(data.count), count: 100_000)
        let appender = try store.openAppender(for: Self.stream)
        try appender.append(more)
        #expect(try appender.makeDurable() == UInt64(data.count + more.count))
        appender.close()
    }

    /// The same member back under its old name, and the rebuild from a second store instance (the disks service's,
    /// as a second process would hold) running while the first appends.
    @Test("a member back under its old name is rebuilt by another store instance while the first appends")
    func rebuildWhileAnotherInstanceAppends() throws {
        let array = try PullableArray(dataShards: 4, parityShards: 2, memberCount: 7, shardBytes: 256 << 10)
        defer { array.remove() }
        let ingest = try array.open()
        defer { ingest.shutdown() }
        let appender = try ingest.openAppender(for: Self.stream)
        let writer = BackgroundAppender(appender, seed: 0x5EC0_4D)
        try writer.waitFor(3 << 20)
        try array.pull(4)
        try writer.waitFor(writer.acknowledged + (3 << 20))
        try array.putBack(4)
        try writer.waitFor(writer.acknowledged + (1 << 20))

        let disks = try array.open(keys: array.writerOnlyKeys)
        defer { disks.shutdown() }
        #expect(disks.distrustedMembers() == [4])
        let during = try disks.rebuild(member: 4)
        #expect(during.unrepairable.isEmpty && during.shardsWritten > 0, "\(during)")
        try writer.waitFor(writer.acknowledged + (2 << 20))
        let (acknowledged, failure) = writer.stop()
        #expect(failure == nil, "\(failure as Any)")
        appender.close()
        let after = try disks.rebuild(member: 4)
        #expect(after.caughtUp, "\(after)")
        #expect(disks.distrustedMembers().isEmpty)
        try expectPattern(acknowledged, seed: 0x5EC0_4D, in: array.open(without: [1, 6]), "without 1 and 6")
    }

    /// The hook `saatkond disks` counts errors with: each I/O error on a member reaches every observer, with the
    /// member, the path, the error number and the operation.
    @Test("each I/O error on a member reaches the observers, with its member, path, errno and operation")
    func memberErrorsAreObserved() throws {
        let fixture = try ArrayFixture()
        defer { fixture.remove() }
        let store = try fixture.open()
        defer { store.shutdown() }
        let seen = Mutex<[MemberError]>([])
        store.observeMemberErrors { error in seen.withLock { $0.append(error) } }
        let appender = try store.openAppender(for: Self.stream)
        try appender.append(StreamPattern.bytes(seed: 5, offset: 0, count: 10_000))
        _ = try appender.makeDurable()
        let member = store.placement.journalMembers(segment: 0, stream: Self.stream.rawValue)[2]
        let fault = InjectedFaults.inject(.error(.ioError), into: .flush, under: fixture.members[member].string + "/")
        defer { InjectedFaults.remove(fault) }
        try appender.append(StreamPattern.bytes(seed: 5, offset: 10_000, count: 1_000))
        // Present (its label reads), the member fails the durable point rather than being left out.
        #expect(throws: StreamStorageError.self) { try appender.makeDurable() }
        appender.close()
        let errors = seen.withLock { $0 }
        #expect(errors.contains { $0.member == member && $0.errno == EIO && $0.operation == "flush" }, "\(errors)")
        #expect(errors.allSatisfy { $0.member == member && $0.path.hasPrefix(fixture.members[member].string) })
    }

    /// Reads the whole stream from `store` and compares it with the pattern; it must hold at least `acknowledged`.
    private func expectPattern(
        _ acknowledged: UInt64, seed: UInt64, in store: ErasureCodedStore, _ context: String
    ) throws {
        let reader = try store.openReader(for: Self.stream)
        defer { reader.close() }
        #expect(reader.length >= acknowledged, "\(reader.length) of \(acknowledged) acknowledged bytes; \(context)")
        var offset: UInt64 = 0
        while offset < reader.length {
            let count = Int(min(reader.length - offset, 4 << 20))
            let bytes = try reader.read(at: offset, count: count)
            guard bytes == StreamPattern.bytes(seed: seed, offset: offset, count: count) else {
                Issue.record("the bytes at \(offset)..<\(offset + UInt64(count)) differ; \(context)")
                return
            }
            offset += UInt64(count)
        }
    }

    private func wait(_ what: String, seconds: Double = 10, until ready: () -> Bool) throws {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while !ready() {
            guard ContinuousClock.now < deadline else { throw TestSupportError("timed out waiting for \(what)") }
            usleep(10_000)
        }
    }
}

/// Appends the pattern of `seed` on a thread of its own, a mix of small appends (journal records) and large ones
/// (whole segments), making them durable every few, until a call fails or it is stopped; keeps the last promise.
final class BackgroundAppender: @unchecked Sendable {
    // @unchecked: the appender is touched only by the thread until `stop()` has waited for it to end; `state` guards
    // the rest.
    private let state = Mutex<(acknowledged: UInt64, failure: String?, stopping: Bool)>((0, nil, false))
    private let done = DispatchSemaphore(value: 0)
    private let appender: any StreamAppender

    init(_ appender: any StreamAppender, seed: UInt64) {
        self.appender = appender
        let thread = Thread { [self] in
            let appender = self.appender
            var sizes = SplitMix64(seed: seed ^ 0x5151)
            do {
                while !state.withLock({ $0.stopping }) {
                    for _ in 0...(sizes.next() % 3) {
                        let largest: UInt64 = sizes.next() % 5 == 0 ? 1_500_000 : 24_000
                        let size = Int(100 + sizes.next() % largest)
                        try appender.append(
                            StreamPattern.bytes(seed: seed, offset: appender.appendedLength, count: size))
                    }
                    let durable = try appender.makeDurable()
                    state.withLock { $0.acknowledged = durable }
                    usleep(300)
                }
            } catch {
                state.withLock { $0.failure = "\(error)" }
            }
            done.signal()
        }
        thread.start()
    }

    /// The last durable length the appender promised.
    var acknowledged: UInt64 { state.withLock { $0.acknowledged } }

    /// Waits (up to two minutes) until `length` bytes are acknowledged; throws when the appender failed first.
    func waitFor(_ length: UInt64) throws {
        let deadline = ContinuousClock.now + .seconds(120)
        while true {
            let (acknowledged, failure, _) = state.withLock { $0 }
            if let failure { throw TestSupportError("the appender failed at \(acknowledged): \(failure)") }
            if acknowledged >= length { return }
            guard ContinuousClock.now < deadline else {
                throw TestSupportError("only \(acknowledged) of \(length) bytes acknowledged in two minutes")
            }
            usleep(5_000)
        }
    }

    /// Stops the thread and returns the last promise and the failure, if any.
    func stop() -> (UInt64, String?) {
        state.withLock { $0.stopping = true }
        done.wait()
        return state.withLock { ($0.acknowledged, $0.failure) }
    }
}

/// An array in member directories of a scratch directory, some of them (`xfs`) on XFS filesystems of their own on
/// loop devices, mounted on the member directory itself as `saatkond disks` mounts a disk. A member is pulled by
/// moving its directory aside, or by unmounting its filesystem lazily (its directory is then an empty mount point,
/// and what holds files open on it goes on writing them), and put back.
final class PullableArray {
    let members: [FilePath]
    let keys: StorageKeys
    let writerOnlyKeys: StorageKeys
    private let scratch: ScratchDirectory
    private var disks: [Int: XFSDisk] = [:]

    init(dataShards: Int, parityShards: Int, memberCount: Int, shardBytes: Int, xfs: [Int] = []) throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-degraded")
        self.scratch = scratch
        members = (0..<memberCount).map { FilePath("\(scratch.path)/disk-\(String(format: "%02d", $0))") }
        do {
            for index in xfs { disks[index] = try XFSDisk(scratch: scratch, mountPoint: members[index].string) }
            let privateKey = try X25519PrivateKey()
            let journalKey = try CryptoRandom.secretBytes(count: 32)
            keys = try StorageKeys(
                storagePublicKey: privateKey.publicKey, storagePrivateKey: privateKey, journalKey: journalKey)
            writerOnlyKeys = try StorageKeys(
                storagePublicKey: privateKey.publicKey, storagePrivateKey: nil, journalKey: journalKey)
            _ = try ErasureCodedStore.create(
                members: members,
                geometry: try ArrayGeometry(
                    dataShards: dataShards, parityShards: parityShards, memberCount: memberCount,
                    shardBytes: shardBytes, blockBytes: 4096))
        } catch {
            for disk in disks.values { disk.remove() }
            scratch.remove()
            throw error
        }
    }

    func open(without: [Int] = [], keys: StorageKeys? = nil) throws -> ErasureCodedStore {
        try ErasureCodedStore(
            members: members.enumerated().filter { !without.contains($0.offset) }.map(\.element),
            keys: keys ?? self.keys)
    }

    func pull(_ index: Int) throws {
        if let disk = disks[index] {
            try disk.unmountLazily()
        } else {
            try FileManager.default.moveItem(atPath: members[index].string, toPath: "\(scratch.path)/pulled-\(index)")
        }
    }

    func putBack(_ index: Int) throws {
        if let disk = disks[index] {
            try disk.mount()
        } else {
            try FileManager.default.moveItem(atPath: "\(scratch.path)/pulled-\(index)", toPath: members[index].string)
        }
    }

    /// Unmounts and detaches every loop device (the stores on it must be shut down), then removes the scratch.
    func remove() {
        for disk in disks.values { disk.remove() }
        scratch.remove()
    }
}

/// Seven members (4 + 2) under one members root, each a directory or (`xfs`) an XFS filesystem mounted there, named
/// by a disk identity as `saatkond disks` names them.
final class RootedArray {
    let root: FilePath
    let keys: StorageKeys
    let writerOnlyKeys: StorageKeys
    private(set) var directories: [FilePath]
    private let scratch: ScratchDirectory
    private let xfs: Bool
    private var disks: [String: XFSDisk] = [:]

    init(xfs: Bool) throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-rooted")
        self.scratch = scratch
        self.xfs = xfs
        root = FilePath("\(scratch.path)/members")
        directories = []
        do {
            try FileManager.default.createDirectory(atPath: root.string, withIntermediateDirectories: false)
            for _ in 0..<7 {
                directories.append(try Self.insert(name: "wwn-\(UUID().uuidString)", root, scratch, xfs, &disks))
            }
            let privateKey = try X25519PrivateKey()
            let journalKey = try CryptoRandom.secretBytes(count: 32)
            keys = try StorageKeys(
                storagePublicKey: privateKey.publicKey, storagePrivateKey: privateKey, journalKey: journalKey)
            writerOnlyKeys = try StorageKeys(
                storagePublicKey: privateKey.publicKey, storagePrivateKey: nil, journalKey: journalKey)
            _ = try ErasureCodedStore.create(
                members: directories,
                geometry: try ArrayGeometry(
                    dataShards: 4, parityShards: 2, memberCount: 7, shardBytes: 256 << 10, blockBytes: 4096))
        } catch {
            for disk in disks.values { disk.remove() }
            scratch.remove()
            throw error
        }
    }

    private static func insert(
        name: String, _ root: FilePath, _ scratch: ScratchDirectory, _ xfs: Bool, _ disks: inout [String: XFSDisk]
    ) throws -> FilePath {
        let directory = root.appending(name)
        if xfs {
            disks[directory.string] = try XFSDisk(scratch: scratch, mountPoint: directory.string)
        } else {
            try FileManager.default.createDirectory(atPath: directory.string, withIntermediateDirectories: false)
        }
        return directory
    }

    /// A blank disk mounted (or a blank directory made) under `name` in the root.
    func insertBlank(named name: String) throws -> FilePath {
        try Self.insert(name: name, root, scratch, xfs, &disks)
    }

    /// Member `index` pulled: its filesystem lazily unmounted (its directory stays, empty), or its directory moved
    /// out of the root.
    func pull(_ index: Int) throws {
        let directory = directories[index]
        if let disk = disks[directory.string] {
            try disk.unmountLazily()
        } else {
            try FileManager.default.moveItem(atPath: directory.string, toPath: "\(scratch.path)/pulled-\(index)")
        }
    }

    /// Member `index` back in the root under its old name (directories only).
    func putBack(_ index: Int) throws {
        try FileManager.default.moveItem(atPath: "\(scratch.path)/pulled-\(index)", toPath: directories[index].string)
    }

    /// A store of the members now in the root, but `without` (by position), from their directories.
    func open(without: [Int]) throws -> ErasureCodedStore {
        let store = try ErasureCodedStore(memberRoot: root, keys: keys)
        let current = store.memberDirectories
        store.shutdown()
        return try ErasureCodedStore(
            members: current.filter { !without.contains($0.key) }.map(\.value), keys: keys)
    }

    func remove() {
        for disk in disks.values { disk.remove() }
        scratch.remove()
    }
}

/// An XFS filesystem on a loop device over a sparse image (512 MiB: mkfs.xfs refuses less than 300 MB), mounted on
/// `mountPoint`. ``remove()``, in a `defer`, unmounts it and detaches its device, each by its own name.
final class XFSDisk {
    static var toolsInstalled: Bool {
        ["losetup", "mkfs.xfs", "mount", "umount"].allSatisfy { Command.locate($0) != nil }
    }

    let device: String
    let mountPoint: String
    private var mounted = false

    init(scratch: ScratchDirectory, mountPoint: String) throws {
        let image = try scratch.sparseFile(named: "xfs-\(UUID().uuidString).img", bytes: 512 << 20)
        device = try Command.run("losetup", ["--find", "--show", image])
        self.mountPoint = mountPoint
        do {
            try Command.run("mkfs.xfs", ["-q", device])
            try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: false)
            try mount()
        } catch {
            remove()
            throw error
        }
    }

    /// Mounts it again; the same filesystem, still held open by whoever wrote to it after a lazy unmount, appears
    /// again with every file as they left it.
    func mount() throws {
        try Command.run("mount", ["-t", "xfs", device, mountPoint])
        mounted = true
    }

    /// What `saatkond disks` does when a disk is pulled: the mount point is empty at once, and files open on it stay
    /// open until closed.
    func unmountLazily() throws {
        try Command.run("umount", ["--lazy", mountPoint])
        mounted = false
    }

    /// Unmounts (lazily if something still holds it) and detaches; safe to call twice.
    func remove() {
        if mounted && (try? Command.run("umount", [mountPoint])) == nil {
            _ = try? Command.run("umount", ["--lazy", mountPoint])
        }
        mounted = false
        _ = try? Command.run("losetup", ["--detach", device])
    }
}
