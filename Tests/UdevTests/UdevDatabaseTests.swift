import Foundation
import TestSupport
import Testing
import Udev

struct UdevDatabaseTests {
    /// The properties that matter (file system, serial, WWN) come from udevd's rules and are only visible through
    /// the udev database; this runs a real systemd-udevd over a real loop device to see them arrive.
    @Test(
        .enabled(if: TestEnvironment.isRoot, "needs root to run systemd-udevd and attach loop devices"),
        .enabled(if: TestEnvironment.hasUdevTools, "needs systemd-udevd, udevadm, losetup and mkfs.xfs"))
    func udevdProbesTheFileSystem() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        // mkfs.xfs refuses file systems smaller than 300 MB; the file is sparse, so this costs little space.
        let image = try scratch.sparseFile(named: "xfs.img", bytes: 512 * 1024 * 1024)
        try Command.run("mkfs.xfs", ["-q", image])
        let logFile = "\(scratch.path)/udevd.log"
        let daemon = try UdevDaemon.startOrReuse(logFile: logFile)
        defer { daemon.stop() }
        // Attached only now, after udevd listens: a device attached earlier raises no new event by itself.
        let loop = try LoopDevice.attach(image)
        defer { loop.detach() }

        try Command.run("udevadm", ["trigger", "--action=add", "/sys/block/\(loop.sysName)"])
        try Command.run("udevadm", ["settle", "--timeout=20"])

        let device = try #require(try UdevContext().blockDevice(sysName: loop.sysName))
        let log = (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
        #expect(device.properties["ID_FS_TYPE"] == "xfs", "properties: \(device.properties)\nudevd log: \(log)")
        #expect(device.idFSType == "xfs")
        #expect(device.properties["ID_FS_UUID"] != nil)
        #expect(device.devNode == loop.node)
    }
}
