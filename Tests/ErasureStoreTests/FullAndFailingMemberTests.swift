import CryptoPrimitives
import ErasureStore
import Foundation
import StoreCrashWriter
import StoreFormat
import StreamStore
import Synchronization
import SystemPackage
import TestSupport
import Testing

extension ErasureStoreCrashTests {
    /// One member of the array on a real, tiny filesystem that fills up, or that fails with EIO the way a dying disk
    /// does: the writer must get an error that names the member, and nothing acknowledged may be lost.
    ///
    /// EIO comes from the filesystem's shutdown ioctl (`xfs_io -x -c shutdown`, which ext4 implements too), not from
    /// a device-mapper `error` target: the kernels this runs on may lack device-mapper, and the shutdown fails every
    /// later write and flush on the member with EIO just the same, from the real filesystem.
    @Suite(
        "A full member and a failing member",
        .enabled(if: geteuid() == 0, "needs root to attach loop devices and mount filesystems"),
        .enabled(if: LoopFilesystem.toolsInstalled, "needs losetup, mkfs.ext4, mount and xfs_io (scripts/setup)"))
    struct FullAndFailingMemberTests {
        static let failing = 3

        @Test("a member that fills up: an error naming it; what was acknowledged reads back, with or without it")
        func fullMember() throws {
            let scratch = try ScratchDirectory(prefix: "saatkond-full-member")
            defer { scratch.remove() }
            let disk = try LoopFilesystem(scratch: scratch, bytes: 4 << 20)
            defer { disk.remove() }
            let rig = try MemberRig(scratch: scratch, replacing: [Self.failing: disk.member])

            let appender = try rig.store.openAppender(for: MemberRig.stream)
            defer { appender.close() }
            // The small member takes a shard of six segments in seven and some journal copies: it fills long before
            // 40 MiB.
            let (acknowledged, failure) = rig.appendUntilFailure(appender, upTo: 40 << 20)
            let error = try #require(
                failure as? StreamStorageError, "40 MiB fitted on a 4 MiB member: \(failure as Any)")
            #expect(error.kind == .io)
            #expect(
                error.description.contains("member \(Self.failing)"), "the error does not name the member: \(error)")
            #expect(error.description.contains("\(Errno.noSpace)"), "the error does not say why: \(error)")
            #expect(throws: StreamStorageError.self, "a failed appender must refuse to go on") {
                try appender.makeDurable()
            }
            appender.close()

            try rig.expectReadable(acknowledged, from: rig.members)
            try rig.expectReadable(acknowledged, from: rig.members.filter { $0 != disk.member })
        }

        /// The filesystem shut down is a member that vanished (its label cannot be read): with one of m = 2 absent,
        /// appends go on without it, and each error met on it reaches the observer, for `saatkond disks` to count.
        @Test("a member failing with EIO: appends go on without it, each error is reported, nothing is lost")
        func failingMember() throws {
            let scratch = try ScratchDirectory(prefix: "saatkond-failing-member")
            defer { scratch.remove() }
            let disk = try LoopFilesystem(scratch: scratch, bytes: 64 << 20)
            defer { disk.remove() }
            let rig = try MemberRig(scratch: scratch, replacing: [Self.failing: disk.member])
            let errors = Mutex<[MemberError]>([])
            rig.store.observeMemberErrors { error in errors.withLock { $0.append(error) } }

            let appender = try rig.store.openAppender(for: MemberRig.stream)
            defer { appender.close() }
            let (healthy, healthyFailure) = rig.appendUntilFailure(appender, upTo: 3_500_000)
            #expect(healthyFailure == nil, "the array failed before the member did: \(healthyFailure as Any)")
            try disk.shutDown()
            let (acknowledged, failure) = rig.appendUntilFailure(appender, upTo: 16 << 20)
            #expect(failure == nil, "one of m = 2 members failed, and appending stopped: \(failure as Any)")
            #expect(acknowledged == 16 << 20 && acknowledged > healthy)
            let reported = errors.withLock { $0 }
            #expect(!reported.isEmpty, "no error on member \(Self.failing) was reported")
            #expect(reported.allSatisfy { $0.member == Self.failing }, "\(reported)")
            #expect(reported.contains { $0.errno == EIO }, "\(reported)")
            #expect(rig.store.absentMemberIndices()[Self.failing]?.contains("cannot be read") == true)
            appender.close()

            // The failed member's label cannot be read, so assembly leaves it out by itself.
            let whole = try rig.expectReadable(acknowledged, from: rig.members)
            #expect(whole.assembly.missing == [Self.failing])
            try rig.expectReadable(acknowledged, from: rig.members.filter { $0 != disk.member })
        }
    }
}

/// An array of seven members (4 + 2, 256 KiB shards in 4 KiB blocks) in a scratch directory, some of them on
/// filesystems of their own, and one stream of ``StreamPattern`` bytes written to it.
struct MemberRig {
    static let stream = try! StreamName("ee.land.register")
    static let seed: UInt64 = 0x4C41_4E44

    let members: [FilePath]
    let keys: StorageKeys
    let store: ErasureCodedStore

    init(scratch: ScratchDirectory, replacing special: [Int: FilePath]) throws {
        members = (0..<7).map { special[$0] ?? FilePath("\(scratch.path)/disk-\($0)") }
        let privateKey = try X25519PrivateKey()
        keys = try StorageKeys(
            storagePublicKey: privateKey.publicKey, storagePrivateKey: privateKey,
            journalKey: try CryptoRandom.secretBytes(count: 32))
        let geometry = try ArrayGeometry(
            dataShards: 4, parityShards: 2, memberCount: 7, shardBytes: 256 << 10, blockBytes: 4096)
        _ = try ErasureCodedStore.create(members: members, geometry: geometry)
        store = try ErasureCodedStore(members: members, keys: keys)
    }

    /// Appends small and large pieces, making them durable every few, until `limit` bytes are durable or a call
    /// fails; returns the last durable length it was promised and the failure.
    func appendUntilFailure(_ appender: any StreamAppender, upTo limit: UInt64) -> (UInt64, (any Error)?) {
        var sizes = PatternGenerator(seed: appender.appendedLength)
        var acknowledged = appender.durableLength
        do {
            while acknowledged < limit {
                for _ in 0...(sizes.next() % 3) {
                    let largest: UInt64 = sizes.next() % 4 == 0 ? 3 << 20 : 64 << 10
                    let size = Int(min(limit - appender.appendedLength, 100 + sizes.next() % largest))
                    let piece = StreamPattern.bytes(seed: Self.seed, offset: appender.appendedLength, count: size)
                    try appender.append(piece)
                }
                acknowledged = try appender.makeDurable()
            }
        } catch {
            return (acknowledged, error)
        }
        return (acknowledged, nil)
    }

    /// Opens the array from `directories` and checks that the stream holds at least `acknowledged` bytes, all of
    /// them the ones written; returns the store.
    @discardableResult
    func expectReadable(
        _ acknowledged: UInt64, from directories: [FilePath], _ context: String = ""
    ) throws -> ErasureCodedStore {
        let store = try ErasureCodedStore(members: directories, keys: keys)
        let reader = try store.openReader(for: Self.stream)
        defer { reader.close() }
        #expect(
            reader.length >= acknowledged, "\(reader.length) bytes are left of \(acknowledged) acknowledged; \(context)"
        )
        let stored = try reader.read(at: 0, count: Int(reader.length))
        let expected = StreamPattern.bytes(seed: Self.seed, offset: 0, count: Int(reader.length))
        #expect(
            stored == expected, "the bytes read differ from those written (\(directories.count) members); \(context)")
        return store
    }
}

/// A small ext4 filesystem on a loop device, mounted on a directory of its own: a real disk that can fill up, fail
/// with EIO, or lose power. ``remove()``, in a `defer`, unmounts it and detaches the device, each by its own name.
final class LoopFilesystem {
    static var toolsInstalled: Bool {
        ["losetup", "mkfs.ext4", "mount", "umount", "xfs_io"].allSatisfy { Command.locate($0) != nil }
    }

    /// The device node losetup chose, such as `/dev/loop3`.
    let device: String
    /// Where it is mounted: a fresh directory with a UUID in its name.
    let mountPoint: String
    private var mounted = false

    init(scratch: ScratchDirectory, bytes: UInt64) throws {
        let name = "member-\(UUID().uuidString)"
        let image = try scratch.sparseFile(named: "\(name).img", bytes: bytes)
        device = try Command.run("losetup", ["--find", "--show", image])
        mountPoint = "\(scratch.path)/\(name)"
        do {
            // No blocks reserved for root: the tests run as root and must see the disk fill up.
            try Command.run("mkfs.ext4", ["-q", "-m", "0", device])
            try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: false)
            try mount()
        } catch {
            remove()
            throw error
        }
    }

    /// The member's directory: the filesystem's root holds lost+found.
    var member: FilePath { FilePath(mountPoint).appending("member") }

    func mount() throws {
        try Command.run("mount", ["-t", "ext4", device, mountPoint])
        mounted = true
    }

    func unmount() throws {
        try Command.run("umount", [mountPoint])
        mounted = false
    }

    /// Takes the filesystem down at once without flushing its log, as a dying disk or a power cut does: every later
    /// call on it fails with EIO, and nothing that was not flushed reaches the device.
    func shutDown() throws {
        try Command.run("xfs_io", ["-x", "-c", "shutdown", mountPoint])
    }

    /// Unmounts (lazily if something still holds it) and detaches; safe to call twice.
    func remove() {
        if mounted && (try? unmount()) == nil {
            _ = try? Command.run("umount", ["--lazy", mountPoint])
            mounted = false
        }
        _ = try? Command.run("losetup", ["--detach", device])
    }
}
