import CryptoPrimitives
import ErasureStore
import Foundation
import HashChain
import StoreCrashWriter
import StoreFormat
import StreamStore
import SystemPackage
import TestSupport
import Testing

/// "An acknowledgement is a promise", held to with real processes: a writer (`StoreCrashWriter`) appends to a real
/// array and prints each durable length it was promised; the test kills it with SIGKILL at a random instant — in
/// the middle of an append, a seal, a journal record or a flush — and then holds the store to the last promise.
@Suite("ErasureStoreCrashTests: kill -9 at any instant loses nothing acknowledged", .serialized)
struct ErasureStoreCrashTests {
    @Test("50 kills at random instants: each promise holds, bytes and head are exact, and appending resumes")
    func killedWriterKeepsEveryPromise() throws {
        let rig = try CrashRig(seed: 0x5A47_6B6F_6E64, total: 20 << 20)
        defer { rig.remove() }
        for round in 0..<50 {
            try rig.killWriter(round: round)
            try rig.verify(losing: [])
        }
        // Kills that came before any promise of their round prove nothing: most must have come after one.
        print("CrashRig: \(rig.killsAfterAPromise) of 50 kills came after a promise of their round")
        #expect(rig.killsAfterAPromise >= 25, "only \(rig.killsAfterAPromise) of 50 kills came after a promise")
        try rig.finish()
    }

    @Test("kills followed by the loss of up to m members: the promise holds on what is left, and after a rebuild")
    func killedWriterAndLostMembersKeepEveryPromise() throws {
        let rig = try CrashRig(seed: 0x0E57_0B1A, total: 10 << 20)
        defer { rig.remove() }
        for round in 0..<25 {
            try rig.killWriter(round: round)
            let geometry = rig.fixture.geometry
            let count = round % (geometry.parityShards + 1)
            let lost = Array((0..<geometry.memberCount).shuffled(using: &rig.random).prefix(count))
            try rig.verify(losing: lost.sorted())
        }
        #expect(rig.killsAfterAPromise >= 12, "only \(rig.killsAfterAPromise) of 25 kills came after a promise")
        try rig.finish()
    }

    /// A power cut is simulated by taking every member's filesystem down without flushing its log (what fstests
    /// does to test fsync): after remounting, each holds exactly what reached its device. A writer that dies (here
    /// by closing its appender without a flush: what the kernel does to a killed process's descriptors) can leave
    /// sealed segments that were written but never flushed; the next writer must not count them as durable.
    @Test(
        "a power cut after a writer died and the next one acknowledged: every acknowledged byte survives",
        .enabled(if: geteuid() == 0, "needs root to attach loop devices and mount filesystems"),
        .enabled(if: LoopFilesystem.toolsInstalled, "needs losetup, mkfs.ext4, mount and xfs_io (scripts/setup)"))
    func powerCutAfterRestart() throws {
        let array = try PoweredArray(prefix: "saatkond-power-cut")
        defer { array.remove() }
        let rig = array.rig

        // First, that the simulation loses only what was not flushed: acknowledged bytes survive, others may not.
        let first = try rig.store.openAppender(for: MemberRig.stream)
        let (flushed, _) = rig.appendUntilFailure(first, upTo: 1_500_000)
        try first.append(StreamPattern.bytes(seed: MemberRig.seed, offset: first.appendedLength, count: 300_000))
        try array.powerCut(closing: first)
        try rig.expectReadable(flushed, from: rig.members)

        // A writer acknowledges a tail in its open segment's journal, seals that segment and two more without
        // flushing them, and dies.
        let dying = try ErasureCodedStore(members: rig.members, keys: rig.keys).openAppender(for: MemberRig.stream)
        let (acknowledgedByDying, _) = rig.appendUntilFailure(dying, upTo: dying.durableLength + 1_000_000)
        try dying.append(StreamPattern.bytes(seed: MemberRig.seed, offset: dying.appendedLength, count: 3_000_000))
        dying.close()
        // The next writer recovers, appends a little and is promised durability for all of it.
        let next = try ErasureCodedStore(members: rig.members, keys: rig.keys).openAppender(for: MemberRig.stream)
        let recovered = next.durableLength
        let (acknowledged, _) = rig.appendUntilFailure(next, upTo: recovered + 65_536)
        next.close()
        try array.powerCut()
        let context =
            "acknowledged: \(acknowledgedByDying) by the writer that died, \(acknowledged) by the next one "
            + "(which recovered \(recovered) as durable)"
        do {
            try rig.expectReadable(acknowledged, from: rig.members, context)
        } catch {
            Issue.record("after the power cut the stream does not open: \(error); \(context)")
        }
    }

    /// Small appends make each segment covered by its journal; the segment's shards are written and flushed in the
    /// background. The power goes off right after the last acknowledgement, whatever that background write had done.
    @Test(
        "a power cut just after small appends crossed segment boundaries: every acknowledged byte survives",
        .enabled(if: geteuid() == 0, "needs root to attach loop devices and mount filesystems"),
        .enabled(if: LoopFilesystem.toolsInstalled, "needs losetup, mkfs.ext4, mount and xfs_io (scripts/setup)"))
    func powerCutAfterCoveredBoundaries() throws {
        let array = try PoweredArray(prefix: "saatkond-power-cut-covered")
        defer { array.remove() }
        let rig = array.rig
        let segmentBytes = UInt64(rig.store.geometry.segmentBytes)
        for round in 0..<3 {
            let appender = try ErasureCodedStore(members: rig.members, keys: rig.keys).openAppender(
                for: MemberRig.stream)
            let target = appender.durableLength + 2 * segmentBytes + UInt64(round) * 37_000
            var acknowledged = appender.durableLength
            while acknowledged < target {
                let size = Int(min(target - appender.appendedLength, 8192))
                try appender.append(
                    StreamPattern.bytes(seed: MemberRig.seed, offset: appender.appendedLength, count: size))
                acknowledged = try appender.makeDurable()
            }
            try array.powerCut(closing: appender)
            try rig.expectReadable(acknowledged, from: rig.members, "round \(round)")
        }
    }

    /// The receiver acknowledges streamed bytes up to the last full segment (`makeDurableToBoundary`), leaving the
    /// open segment's bytes unjournaled: the cut comes right after that acknowledgement.
    @Test(
        "a power cut right after an acknowledgement to the segment boundary: the acknowledged segments survive",
        .enabled(if: geteuid() == 0, "needs root to attach loop devices and mount filesystems"),
        .enabled(if: LoopFilesystem.toolsInstalled, "needs losetup, mkfs.ext4, mount and xfs_io (scripts/setup)"))
    func powerCutAfterBoundaryAcknowledgement() throws {
        let array = try PoweredArray(prefix: "saatkond-power-cut-boundary")
        defer { array.remove() }
        let rig = array.rig
        let segmentBytes = UInt64(rig.store.geometry.segmentBytes)
        let appender = try rig.store.openAppender(for: MemberRig.stream)
        let total = 3 * segmentBytes + 123_456
        while appender.appendedLength < total {
            let size = Int(min(total - appender.appendedLength, 256 << 10))
            try appender.append(StreamPattern.bytes(seed: MemberRig.seed, offset: appender.appendedLength, count: size))
        }
        let acknowledged = try appender.makeDurableToBoundary()
        #expect(acknowledged == 3 * segmentBytes, "acknowledged \(acknowledged), not the last boundary")
        try array.powerCut(closing: appender)
        try rig.expectReadable(acknowledged, from: rig.members, "acknowledged to the boundary")
    }

    /// The cut lands while a writer is in the middle of its appends and flushes, at a seeded random instant: whatever
    /// had been acknowledged before it survives; the flush it interrupted fails and promises nothing.
    @Test(
        "a power cut in the middle of appends and flushes: everything acknowledged before it survives",
        .enabled(if: geteuid() == 0, "needs root to attach loop devices and mount filesystems"),
        .enabled(if: LoopFilesystem.toolsInstalled, "needs losetup, mkfs.ext4, mount and xfs_io (scripts/setup)"))
    func powerCutDuringFlushes() throws {
        let seed =
            ProcessInfo.processInfo.environment["SAATKOND_CRASH_SEED"].flatMap { UInt64($0) }
            ?? UInt64.random(in: 0...UInt64.max)
        var random = SplitMix64(seed: seed)
        let array = try PoweredArray(prefix: "saatkond-power-cut-flush")
        defer { array.remove() }
        let rig = array.rig
        let appender = try rig.store.openAppender(for: MemberRig.stream)
        let writer = BackgroundWriter(appender: appender, sizes: SplitMix64(seed: random.next()))
        usleep(UInt32.random(in: 150_000...600_000, using: &random))
        array.cutOff()
        let (acknowledged, failure) = writer.stop()
        try array.restore(closing: appender)
        let context = "acknowledged \(acknowledged) before the cut; SAATKOND_CRASH_SEED=\(seed)"
        #expect(failure != nil, "the writer went on after the power was cut; \(context)")
        #expect(acknowledged > 0, "nothing was acknowledged before the cut; \(context)")
        try rig.expectReadable(acknowledged, from: rig.members, context)
    }
}

/// Appends and makes durable on a thread of its own until a call fails or it is stopped; keeps the last length it
/// was promised.
private final class BackgroundWriter: @unchecked Sendable {
    // @unchecked: the appender is touched only by the thread until `stop()` has waited for it to end; `lock`
    // guards the rest.
    private let lock = NSLock()
    private var acknowledged: UInt64 = 0
    private var failure: (any Error)?
    private var stopping = false
    private let done = DispatchSemaphore(value: 0)
    private let appender: any StreamAppender

    init(appender: any StreamAppender, sizes: SplitMix64) {
        self.appender = appender
        let thread = Thread { [self] in
            let appender = self.appender
            var sizes = sizes
            do {
                while !lock.withLock({ stopping }) {
                    for _ in 0...(sizes.next() % 4) {
                        let size = Int(1 + sizes.next() % (sizes.next() % 8 == 0 ? 2 << 20 : 64 << 10))
                        try appender.append(
                            StreamPattern.bytes(seed: MemberRig.seed, offset: appender.appendedLength, count: size))
                    }
                    let durable = try appender.makeDurable()
                    lock.withLock { acknowledged = durable }
                }
            } catch {
                lock.withLock { failure = error }
            }
            done.signal()
        }
        thread.start()
    }

    /// Waits for the thread to end (a failed call ends it; a writer that never fails is asked to stop) and returns
    /// the last promise and the failure, if any.
    func stop() -> (UInt64, (any Error)?) {
        if done.wait(timeout: .now() + 30) == .timedOut {
            lock.withLock { stopping = true }
            done.wait()
        }
        return lock.withLock { (acknowledged, failure) }
    }
}

/// A ``MemberRig`` whose seven members are small ext4 filesystems on loop devices, whose power can be cut.
final class PoweredArray {
    let rig: MemberRig
    private let scratch: ScratchDirectory
    private var disks: [LoopFilesystem] = []

    init(prefix: String) throws {
        scratch = try ScratchDirectory(prefix: prefix)
        do {
            for _ in 0..<7 { disks.append(try LoopFilesystem(scratch: scratch, bytes: 32 << 20)) }
            rig = try MemberRig(
                scratch: scratch,
                replacing: Dictionary(uniqueKeysWithValues: disks.enumerated().map { ($0, $1.member) }))
        } catch {
            for disk in disks { disk.remove() }
            scratch.remove()
            throw error
        }
    }

    /// Takes every member's filesystem down without flushing its log, then mounts it again. Every descriptor on the
    /// members is closed before the power comes back (`appender`'s among them): a filesystem in use cannot be
    /// unmounted.
    ///
    /// Each cut proves it is one: a probe file written on every filesystem just before, and never flushed, must be
    /// lost on at least one of them. A "cut" that flushed, or did nothing, fails here rather than passing every test
    /// that relies on it.
    func powerCut(closing appender: (any StreamAppender)? = nil) throws {
        let probe = [UInt8](repeating: 0x50, count: 256 << 10)
        for disk in disks {
            let written = FileManager.default.createFile(atPath: Self.probePath(disk), contents: Data(probe))
            try #require(written, "cannot write the probe on \(disk.mountPoint)")
        }
        cutOff()
        try restore(closing: appender)
        let kept = disks.filter { (try? Data(contentsOf: URL(fileURLWithPath: Self.probePath($0)))) == Data(probe) }
        #expect(kept.count < disks.count, "every unflushed probe survived the power cut: nothing was cut")
        for disk in disks { try? FileManager.default.removeItem(atPath: Self.probePath(disk)) }
    }

    /// The power goes off: every member's filesystem is taken down without flushing its log. Every later call on a
    /// member fails with EIO.
    func cutOff() {
        for disk in disks { _ = try? disk.shutDown() }
    }

    /// The power comes back: every member is mounted again, once `appender` (whose descriptors keep it busy) closed.
    func restore(closing appender: (any StreamAppender)? = nil) throws {
        appender?.close()
        for disk in disks {
            try disk.unmount()
            try disk.mount()
        }
    }

    private static func probePath(_ disk: LoopFilesystem) -> String { "\(disk.mountPoint)/power-cut-probe" }

    /// Unmounts and detaches every loop device, then removes the scratch directory.
    func remove() {
        for disk in disks { disk.remove() }
        scratch.remove()
    }
}

/// One array, one stream, one writer at a time, and what the writer has promised so far.
final class CrashRig {
    static let stream = try! StreamName("ee.court.register")

    let fixture: ArrayFixture
    private let seed: UInt64
    private let total: UInt64
    private let expected: [UInt8]
    private let keyDirectory: String
    /// The longest durable length any writer printed, and the head it printed with it.
    private var promise = (length: UInt64(0), head: ChainHead.empty)
    /// When the kills land and which members are lost: seeded, and the seed is in every failure's message, so that
    /// `SAATKOND_CRASH_SEED=<seed>` replays a failing run's choices (the writer's own timing still varies).
    var random: SplitMix64
    let randomSeed: UInt64
    /// Rounds whose writer had printed at least one promise of its own before it was killed.
    private(set) var killsAfterAPromise = 0

    /// The writer next to this test bundle, where `swift build --build-tests` puts it.
    static let writerPath: String = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        .deletingLastPathComponent().appendingPathComponent("StoreCrashWriter").path

    /// 4 + 2 over 7 members, 256 KiB shards (1 MiB segments) in 4 KiB blocks, and the keys on disk for the writer.
    init(seed: UInt64, total: UInt64) throws {
        guard FileManager.default.isExecutableFile(atPath: Self.writerPath) else {
            throw TestSupportError("\(Self.writerPath) is missing; build with `swift build --build-tests`")
        }
        fixture = try ArrayFixture(dataShards: 4, parityShards: 2, memberCount: 7, shardBytes: 256 << 10)
        self.seed = seed
        self.total = total
        randomSeed =
            ProcessInfo.processInfo.environment["SAATKOND_CRASH_SEED"].flatMap { UInt64($0) }
            ?? UInt64.random(in: 0...UInt64.max)
        random = SplitMix64(seed: randomSeed)
        print("CrashRig: kill instants and lost members from SAATKOND_CRASH_SEED=\(randomSeed)")
        expected = StreamPattern.bytes(seed: seed, offset: 0, count: Int(total))
        keyDirectory = "\(fixture.scratch.path)/keys"
        try FileManager.default.createDirectory(atPath: keyDirectory, withIntermediateDirectories: false)
        try write(fixture.storagePrivateKey.rawRepresentation, to: "storage-private.key")
        try write(fixture.keys.journalKey, to: "journal.key")
    }

    func remove() {
        fixture.remove()
    }

    /// Starts a writer, lets it run 20–300 ms, kills it with SIGKILL by its pid and checks what it printed:
    /// the length it recovered is at least the last promise, with the right head, and its promises only grow.
    /// One round in three counts the time from the writer's start, so that kills land in its recovery too; the
    /// others from the end of its recovery (its `OPEN` line), so that a loaded machine, where starting and
    /// recovering take longer, still kills most writers after a promise.
    ///
    /// With `refusalAllowed` (members are absent), a writer refused because recovery could not decide where the
    /// stream ends without them ("not torn", "may be longer", "may explain") is no failure: it returns false.
    @discardableResult
    func killWriter(round: Int, refusalAllowed: Bool = false) throws -> Bool {
        let log = "\(fixture.scratch.path)/writer-\(round).out"
        let writer = try startWriter(log: log)
        defer { writer.terminate(grace: 0) }
        if Int.random(in: 0..<3, using: &random) != 0 { Self.waitForOpen(log: log) }
        usleep(UInt32.random(in: 20_000...300_000, using: &random))
        writer.send(SIGKILL)
        let status = writer.waitForExit(timeout: 30).map(exitCode(fromWaitStatus:))
        let errors = (try? String(contentsOfFile: log + ".err", encoding: .utf8)) ?? ""
        if refusalAllowed, status != 128 + SIGKILL, status != 0,
            errors.contains("not torn") || errors.contains("may be longer") || errors.contains("may explain")
        {
            return false
        }
        #expect(
            status == 128 + SIGKILL || status == 0,
            "round \(round), SAATKOND_CRASH_SEED=\(randomSeed): the writer failed (\(status as Any)): \(errors)")

        let before = promise
        var promisedThisRound = false
        for line in ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count == 3, let length = UInt64(fields[1]), length <= total else {
                Issue.record("round \(round): the writer printed \"\(line)\"")
                continue
            }
            let head = String(fields[2])
            if fields[0] == "OPEN" {
                #expect(length >= before.length, "round \(round): reopened at \(length), promised \(before.length)")
                #expect(head == "\(referenceHead(length))", "round \(round): the recovered head at \(length) is wrong")
            } else {
                #expect(length >= promise.length, "round \(round): a promise shrank to \(length)")
                guard let promised = ChainHead(hex: head) else {
                    Issue.record("round \(round): the writer printed the head \"\(head)\"")
                    continue
                }
                promise = (length, promised)
                promisedThisRound = true
            }
        }
        if promisedThisRound && status == 128 + SIGKILL { killsAfterAPromise += 1 }
        return true
    }

    /// Waits (up to 30 s) until the writer has printed its `OPEN` line; a writer that fails before that is reported by
    /// its exit status.
    private static func waitForOpen(log: String) {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let text = try? String(contentsOfFile: log, encoding: .utf8), text.contains("OPEN ") { return }
            usleep(1000)
        }
    }

    /// Opens the array with `lost` members wiped and checks the promise on what is left; then replaces and rebuilds
    /// the lost members, as a technician would, so that the next writer can append to a whole array again.
    func verify(losing lost: [Int]) throws {
        for member in lost { try fixture.wipe(member) }
        let context = "promised \(promise.length) bytes, members lost: \(lost), SAATKOND_CRASH_SEED=\(randomSeed)"
        let store = try fixture.open()
        guard let reader = try openReader(store) else {
            return try rebuild(lost, in: store)  // The writer died before it created anything; nothing was promised.
        }
        defer { reader.close() }
        try #require(reader.length >= promise.length, "the stream is \(reader.length) bytes long; \(context)")
        try #require(reader.length <= total, "the stream is \(reader.length) bytes long, more than was ever written")
        let stored = try reader.read(at: 0, count: Int(reader.length))
        try #require(stored.count == Int(reader.length), "read \(stored.count) of \(reader.length) bytes; \(context)")
        if let mismatch = firstMismatch(stored) {
            Issue.record("byte \(mismatch) differs from what was written; \(context)")
        }
        #expect(
            StreamHashChain.head(of: Array(stored[..<Int(promise.length)])) == promise.head,
            "the head at the promised length differs from the promised head; \(context)")
        try rebuild(lost, in: store)
    }

    /// A last writer runs to the end undisturbed, and the whole stream reads back.
    func finish() throws {
        let log = "\(fixture.scratch.path)/writer-final.out"
        let writer = try startWriter(log: log)
        defer { writer.terminate(grace: 0) }
        let status = writer.waitForExit(timeout: 120).map(exitCode(fromWaitStatus:))
        let errors = (try? String(contentsOfFile: log + ".err", encoding: .utf8)) ?? ""
        try #require(status == 0, "the final writer failed (\(status as Any)): \(errors)")
        let reader = try fixture.open().openReader(for: Self.stream)
        defer { reader.close() }
        #expect(reader.length == total)
        #expect(firstMismatch(try reader.read(at: 0, count: Int(total))) == nil)
    }

    /// The stream's reader; nil when the stream does not exist and that breaks no promise.
    private func openReader(_ store: ErasureCodedStore) throws -> (any StreamReader)? {
        do {
            return try store.openReader(for: Self.stream)
        } catch {
            guard error.kind == .unknownStream && promise.length == 0 else { throw error }
            return nil
        }
    }

    /// Small appends with a promise after every few keep the writer in journal records and flushes most of the time;
    /// one append in 256 is large (up to 3 MiB) and seals several segments at once. 2 MB/s spreads about 17 MiB over
    /// 50 rounds, so that kills land all along a growing stream instead of after its end.
    func startWriter(log: String) throws -> ChildProcess {
        try ChildProcess(
            executable: Self.writerPath,
            arguments: fixture.members.flatMap { ["--member", $0.string] } + [
                "--keys", keyDirectory, "--stream", Self.stream.rawValue, "--seed", String(seed),
                "--total", String(total), "--maximum-small-append", String(16 << 10), "--large-append-odds", "256",
                "--bytes-per-second", String(2_000_000),
            ],
            output: log, errors: log + ".err")
    }

    private func rebuild(_ lost: [Int], in store: ErasureCodedStore) throws {
        guard !lost.isEmpty else { return }
        for member in lost { try store.adoptReplacement(fixture.members[member], as: member) }
        let whole = try fixture.open()
        #expect(whole.assembly.isComplete, "after adopting the replacements: \(whole.assembly)")
        for member in lost { _ = try whole.rebuild(member: member) }
    }

    /// The offset of the first byte of `stored` that is not the writer's pattern, if any.
    private func firstMismatch(_ stored: [UInt8]) -> Int? {
        guard !stored.isEmpty else { return nil }
        let equal = stored.withUnsafeBytes { stored in
            expected.withUnsafeBytes { memcmp(stored.baseAddress!, $0.baseAddress!, stored.count) == 0 }
        }
        return equal ? nil : stored.indices.first { stored[$0] != expected[$0] }
    }

    private func referenceHead(_ length: UInt64) -> ChainHead {
        StreamHashChain.head(of: Array(expected[..<Int(length)]))
    }

    private func write(_ secret: SecretBytes, to name: String) throws {
        let data = secret.withUnsafeBytes { Data($0) }
        guard
            FileManager.default.createFile(
                atPath: "\(keyDirectory)/\(name)", contents: data, attributes: [.posixPermissions: 0o600])
        else { throw TestSupportError("cannot write \(keyDirectory)/\(name)") }
    }
}
