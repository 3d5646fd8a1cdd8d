import Foundation
import TestSupport
import Testing
import Udev

struct BlockDeviceEnumerationTests {
    /// The kernel's own list of block devices, disks and partitions alike.
    private func sysClassBlock() throws -> Set<String> {
        Set(try FileManager.default.contentsOfDirectory(atPath: "/sys/class/block"))
    }

    /// Needs no privileges: libudev reads sysfs, which everyone may read.
    @Test func enumerationListsTheKernelsBlockDevices() throws {
        let context = try UdevContext()
        // Other suites may attach loop devices meanwhile; only devices present before and after must be listed.
        let before = try sysClassBlock()
        let devices = try context.blockDevices()
        let after = try sysClassBlock()

        let names = Set(devices.map(\.sysName))
        #expect(before.intersection(after).isSubset(of: names))
        #expect(names.isSubset(of: before.union(after)))
        for device in devices {
            #expect(device.sysPath.hasPrefix("/sys/"), "\(device.sysPath)")
            #expect(device.devType == "disk" || device.devType == "partition", "\(device.sysName)")
            #expect(device.properties["SUBSYSTEM"] == "block", "\(device.sysName)")
        }
    }

    @Test func unknownDeviceIsNil() throws {
        let context = try UdevContext()
        #expect(try context.blockDevice(sysName: "saatkond-no-such-\(UUID().uuidString.prefix(8))") == nil)
    }

    @Test(.enabled(if: TestEnvironment.isRoot && TestEnvironment.hasLoopTools, "needs root and losetup"))
    func findsItsOwnLoopDevice() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let size: UInt64 = 64 * 1024 * 1024
        let loop = try LoopDevice.attach(try scratch.sparseFile(named: "disk.img", bytes: size))
        defer { loop.detach() }
        let context = try UdevContext()

        let listed = try context.blockDevices().first { $0.sysName == loop.sysName }
        let device = try #require(listed, "\(loop.sysName) is not in the enumeration")

        #expect(device.devNode == loop.node)
        #expect(device.devType == "disk")
        #expect(device.sizeBytes == size)
        #expect(device.properties["DEVNAME"] == loop.node)
        let sysBlock = "/sys/class/block/\(loop.sysName)"
        let majorMinor = try String(contentsOfFile: "\(sysBlock)/dev", encoding: .utf8)
        #expect("\(device.properties["MAJOR"] ?? "?"):\(device.properties["MINOR"] ?? "?")\n" == majorMinor)
        for attribute in ["size", "ro", "removable", "queue/logical_block_size"] {
            let fromSysfs = try String(contentsOfFile: "\(sysBlock)/\(attribute)", encoding: .utf8)
            #expect(device.sysAttributes[attribute] == fromSysfs.trimmingCharacters(in: .newlines), "\(attribute)")
        }

        let looked = try #require(try context.blockDevice(sysName: loop.sysName))
        #expect(looked.sysPath == device.sysPath)
        #expect(looked.devNode == loop.node)
        #expect(looked.sizeBytes == size)
    }
}
