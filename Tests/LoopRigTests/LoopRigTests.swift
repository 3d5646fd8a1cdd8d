import Foundation
import LoopRig
import SystemPackage
import TestSupport
import Testing

/// The rig on its own, without udevd: its files, its bays, and what a pull does to a loop device.
@Suite("The loop-device test rig", .serialized)
struct LoopRigTests {
    static var isRoot: Bool { geteuid() == 0 }
    static var hasLoopTools: Bool { Command.locate("losetup") != nil }
    static var hasFileSystemTools: Bool {
        hasLoopTools && Command.locate("mkfs.xfs") != nil && Command.locate("mount") != nil
            && Command.locate("umount") != nil
    }

    @Test("the rig's directory must be named saatkond-rig…, and has bays/NN, disks and leds")
    func directory() throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-rig")
        defer { scratch.remove() }
        #expect(throws: LoopRigError.self) { try LoopRig(directory: FilePath("\(scratch.path)/elsewhere"), bays: 2) }
        #expect(throws: LoopRigError.self) { try LoopRig(directory: FilePath(scratch.path), bays: 0) }
        let rig = try LoopRig(directory: FilePath(scratch.path), bays: 12)
        for name in ["disks", "leds", "bays/01", "bays/09", "bays/10", "bays/12"] {
            #expect(FileManager.default.fileExists(atPath: "\(scratch.path)/\(name)"), "\(name)")
        }
        #expect(!FileManager.default.fileExists(atPath: "\(scratch.path)/bays/13"))
        #expect(rig.bayDirectory(3).string.hasSuffix("/bays/03"))
        #expect(rig.indicatorFile(bay: 11).string.hasSuffix("/leds/11"))
        #expect(rig.device(inBay: 1) == nil && rig.device(inBay: 13) == nil)
    }

    @Test("a disk is a sparse image named after its serial and WWN; bad or repeated serials are refused")
    func disks() throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-rig")
        defer { scratch.remove() }
        let rig = try LoopRig(directory: FilePath(scratch.path), bays: 2)
        let plain = try rig.makeDisk(serial: "SAATKOND-RIG-1", bytes: 1 << 30)
        #expect(plain.lastComponent?.string == "SAATKOND-RIG-1.img")
        let withWWN = try rig.makeDisk(serial: "SAATKOND-RIG-2", wwn: "5000C500A1B2C3D4", bytes: 1 << 20)
        #expect(withWWN.lastComponent?.string == "SAATKOND-RIG-2@wwn-0x5000c500a1b2c3d4.img")
        let attributes = try FileManager.default.attributesOfItem(atPath: plain.string)
        #expect(attributes[.size] as? UInt64 == 1 << 30)
        // Sparse: a gigabyte costs (almost) nothing.
        var status = stat()
        #expect(stat(plain.string, &status) == 0 && status.st_blocks < 64)

        #expect(throws: LoopRigError.self) { try rig.makeDisk(serial: "SAATKOND-RIG-1", bytes: 512) }
        #expect(throws: LoopRigError.self) { try rig.makeDisk(serial: "a b", bytes: 512) }
        #expect(throws: LoopRigError.self) { try rig.makeDisk(serial: "a@b", bytes: 512) }
        #expect(throws: LoopRigError.self) { try rig.makeDisk(serial: "", bytes: 512) }
        #expect(throws: LoopRigError.self) { try rig.makeDisk(serial: "x", wwn: "0xnothex", bytes: 512) }
        #expect(throws: LoopRigError.self) { try rig.makeDisk(serial: "x", bytes: 1000) }
        #expect(throws: LoopRigError.self) { try rig.makeDisk(serial: "x", bytes: 0) }
        #expect(throws: LoopRigError.self) { try rig.insert(serial: "nobody", bay: 1) }
        #expect(throws: LoopRigError.self) { try rig.insert(serial: "SAATKOND-RIG-1", bay: 3) }
        #expect(throws: LoopRigError.self) { try rig.pull(bay: 1) }
    }

    @Test(
        "insert attaches the image in its bay; a pull empties the bay and the image waits to be inserted again",
        .enabled(if: isRoot && hasLoopTools, "needs root and losetup"))
    func insertAndPull() throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-rig")
        defer { scratch.remove() }
        let rig = try LoopRig(directory: FilePath(scratch.path), bays: 4)
        defer { rig.detachAll() }
        _ = try rig.makeDisk(serial: "SAATKOND-RIG-A", bytes: 64 << 20)
        _ = try rig.makeDisk(serial: "SAATKOND-RIG-B", wwn: "0x5000c500a1b2c3d4", bytes: 32 << 20)

        let node = try rig.insert(serial: "SAATKOND-RIG-A", bay: 2)
        #expect(node.hasPrefix("/dev/loop"))
        #expect(rig.device(inBay: 2) == node)
        #expect(try Self.sysfsSize(of: node) == 64 << 20)
        #expect(try Self.backingFile(of: node) == "\(rig.directory)/bays/02/SAATKOND-RIG-A.img")
        let refused = #expect(throws: LoopRigError.self) { try rig.insert(serial: "SAATKOND-RIG-B", bay: 2) }
        #expect(refused?.description.contains("bay 2 already holds \(node)") == true, "\(String(describing: refused))")
        #expect(throws: LoopRigError.self) { try rig.insert(serial: "SAATKOND-RIG-A", bay: 3) }

        try rig.pull(bay: 2)
        #expect(rig.device(inBay: 2) == nil)
        // Nothing of ours holds it open, so it is freed once a udevd worker probing it (if one runs) lets go.
        #expect(Self.eventually { (try? Self.backingFile(of: node)) == nil })
        #expect(FileManager.default.fileExists(atPath: "\(rig.directory)/disks/SAATKOND-RIG-A.img"))
        #expect(throws: LoopRigError.self) { try rig.pull(bay: 2) }

        let again = try rig.insert(serial: "SAATKOND-RIG-A", bay: 4)
        #expect(rig.device(inBay: 4) == again)
        let other = try rig.insert(serial: "SAATKOND-RIG-B", bay: 1)
        #expect(try Self.backingFile(of: other).hasSuffix("/bays/01/SAATKOND-RIG-B@wwn-0x5000c500a1b2c3d4.img"))
        #expect(Set(rig.detachAll()) == [again, other])
        #expect(Self.eventually { rig.device(inBay: 4) == nil && rig.device(inBay: 1) == nil })
    }

    @Test(
        "a pull under a mounted XFS: the device's size is 0 at once, I/O fails, and it is freed at unmount",
        .enabled(if: isRoot && hasFileSystemTools, "needs root, losetup, mkfs.xfs and mount"))
    func pullUnderAMount() throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-rig")
        defer { scratch.remove() }
        let rig = try LoopRig(directory: FilePath(scratch.path), bays: 2)
        defer { rig.detachAll() }
        // mkfs.xfs refuses file systems smaller than 300 MB; the image is sparse.
        let image = try rig.makeDisk(serial: "SAATKOND-RIG-XFS", bytes: 512 << 20)
        try Command.run("mkfs.xfs", ["-q", image.string])
        let node = try rig.insert(serial: "SAATKOND-RIG-XFS", bay: 1)
        let mountPoint = "\(scratch.path)/mnt"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: false)
        try Command.run("mount", [node, mountPoint])
        var mounted = true
        defer { if mounted { _ = try? Command.run("umount", [mountPoint]) } }
        #expect(Self.writeAndSynchronise("\(mountPoint)/before") == 0)

        try rig.pull(bay: 1)
        #expect(try Self.sysfsSize(of: node) == 0)
        #expect(rig.device(inBay: 1) == nil)
        #expect(FileManager.default.fileExists(atPath: "\(rig.directory)/disks/SAATKOND-RIG-XFS.img"))
        // Still attached (the mount holds it), now to the image's new place.
        #expect(try Self.backingFile(of: node) == "\(rig.directory)/disks/SAATKOND-RIG-XFS.img")
        #expect(Self.writeAndSynchronise("\(mountPoint)/after") == EIO)

        try Command.run("umount", [mountPoint])
        mounted = false
        #expect(Self.eventually { (try? Self.backingFile(of: node)) == nil }, "the last close frees the device")
    }

    /// Whether `condition` holds within five seconds. A device is freed at its last close, and a running udevd's
    /// worker may hold it open for a moment after a detach or an unmount (it probes each changed device).
    static func eventually(_ condition: () -> Bool) -> Bool {
        let deadline = ContinuousClock.now.advanced(by: .seconds(5))
        while !condition() {
            guard ContinuousClock.now < deadline else { return false }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return true
    }

    static func sysfsSize(of node: String) throws -> UInt64 {
        let name = (node as NSString).lastPathComponent
        let text = try String(contentsOfFile: "/sys/block/\(name)/size", encoding: .utf8)
        return (UInt64(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) * 512
    }

    static func backingFile(of node: String) throws -> String {
        let name = (node as NSString).lastPathComponent
        return try String(contentsOfFile: "/sys/block/\(name)/loop/backing_file", encoding: .utf8)
            .trimmingCharacters(in: .newlines)
    }

    /// Creates a file, writes to it and fsyncs it; 0, or the errno of the first step that failed.
    static func writeAndSynchronise(_ path: String) -> Int32 {
        let descriptor = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { return errno }
        defer { close(descriptor) }
        let bytes = [UInt8](repeating: 7, count: 65536)
        guard bytes.withUnsafeBytes({ write(descriptor, $0.baseAddress, $0.count) }) == bytes.count else {
            return errno
        }
        return fsync(descriptor) == 0 ? 0 : errno
    }
}
