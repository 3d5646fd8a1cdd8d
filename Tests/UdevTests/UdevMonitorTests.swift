import Foundation
import LoopRig
import SystemPackage
import TestSupport
import Testing
import Udev

/// The monitor against a real systemd-udevd and the loop-device rig: what `saatkond disks` will see when a technician
/// inserts and pulls disks. Serialized: the tests share udevd and the rig's rules in /run/udev/rules.d.
@Suite(
    "udev events from the loop-device rig", .serialized,
    .enabled(if: TestEnvironment.isRoot, "needs root to run systemd-udevd, attach loop devices and mount"),
    .enabled(if: TestEnvironment.hasRigTools, "needs systemd-udevd, udevadm, losetup, mkfs.xfs, mount and /bin/sh"))
struct UdevMonitorTests {
    @Test("an inserted rig disk is announced with its bay, label and serial, and its WWN when it has one")
    func insert() throws {
        let fixture = try RigFixture()
        defer { fixture.close() }
        let rig = fixture.rig
        _ = try rig.makeDisk(serial: "SAATKOND-RIG-A1", bytes: 64 << 20)
        _ = try rig.makeDisk(serial: "SAATKOND-RIG-B2", wwn: "0x5000c500a1b2c3d4", bytes: 32 << 20)

        let plain = try rig.insert(serial: "SAATKOND-RIG-A1", bay: 3)
        let event = try #require(try fixture.nextAttachEvent(for: plain), "no event; udevd: \(fixture.udevdLog)")
        #expect(event.action == .add || event.action == .change, "\(event.action)")
        #expect(event.sequenceNumber != nil)
        let device = event.device
        #expect(device.properties["SAATKOND_BAY"] == "3")
        #expect(device.properties["SAATKOND_BAY_LABEL"] == "2")
        #expect(device.idSerial == "SAATKOND-RIG-A1")
        #expect(device.properties["ID_SERIAL_SHORT"] == "SAATKOND-RIG-A1")
        #expect(device.idWWN == nil)
        #expect(device.diskSequence != nil)
        #expect(device.sizeBytes == 64 << 20)
        #expect(device.devType == "disk")
        #expect(device.loopBackingFile == "\(rig.directory)/bays/03/SAATKOND-RIG-A1.img")

        let withWWN = try rig.insert(serial: "SAATKOND-RIG-B2", bay: 12)
        let second = try #require(try fixture.nextAttachEvent(for: withWWN), "no event; udevd: \(fixture.udevdLog)")
        #expect(second.device.properties["SAATKOND_BAY"] == "12")
        #expect(second.device.properties["SAATKOND_BAY_LABEL"] == "11")
        #expect(second.device.idSerial == "SAATKOND-RIG-B2")
        #expect(second.device.idWWN == "0x5000c500a1b2c3d4")
        #expect(second.device.diskSequence != device.diskSequence)

        // What udevd announced is also what it recorded: a service starting later reads the same from its database.
        try Command.run("udevadm", ["settle", "--timeout=20"])
        let recorded = try #require(try fixture.context.blockDevice(sysName: (withWWN as NSString).lastPathComponent))
        #expect(recorded.properties["SAATKOND_BAY"] == "12")
        #expect(recorded.idWWN == "0x5000c500a1b2c3d4")
    }

    @Test("the rig's rules leave every other loop device alone, even one whose image lies in the rig")
    func otherLoopDevices() throws {
        let fixture = try RigFixture()
        defer { fixture.close() }
        let outsider = try ScratchDirectory(prefix: "saatkond-test")
        defer { outsider.remove() }
        // Not in a bay: a file elsewhere, a rig disk waiting in disks/, and a bay's subdirectory.
        let elsewhere = try outsider.sparseFile(named: "SAATKOND-RIG-X.img", bytes: 16 << 20)
        let waiting = try fixture.rig.makeDisk(serial: "SAATKOND-RIG-Y", bytes: 16 << 20).string
        let nested = "\(fixture.rig.directory)/bays/04/deeper"
        try FileManager.default.createDirectory(atPath: nested, withIntermediateDirectories: false)
        let deeper = try ScratchDirectory.sparse(at: "\(nested)/SAATKOND-RIG-Z.img", bytes: 16 << 20)
        var nodes: [String] = []
        defer { for node in nodes { LoopDevice(node: node).detach() } }
        for file in [elsewhere, waiting, deeper] {
            nodes.append(try LoopDevice.attach(file).node)
        }
        // Every event of these devices until each has shown its attach (its present medium, with its size).
        var seen: [String: [UdevEvent]] = [:]
        _ = try fixture.nextEvent { event in
            guard let node = event.device.devNode, nodes.contains(node) else { return false }
            seen[node, default: []].append(event)
            return nodes.allSatisfy { node in
                seen[node, default: []].contains {
                    $0.device.diskSequence == $0.device.currentDiskSequence && ($0.device.sizeBytes ?? 0) > 0
                }
            }
        }
        for node in nodes {
            let events = seen[node, default: []]
            #expect(!events.isEmpty, "no event for \(node); udevd: \(fixture.udevdLog)")
            for event in events {
                #expect(event.device.properties["SAATKOND_BAY"] == nil, "\(node): \(event.device.properties)")
                #expect(event.device.properties["SAATKOND_BAY_LABEL"] == nil)
                #expect(event.device.idSerial == nil)
            }
        }
    }

    @Test("pulling a mounted XFS rig disk is a change to size 0 within a second; reinserted, it has the same serial")
    func pullAndReinsert() throws {
        let fixture = try RigFixture()
        defer { fixture.close() }
        let rig = fixture.rig
        let image = try rig.makeDisk(serial: "SAATKOND-RIG-P1", wwn: "0x5000cca25206c808", bytes: 512 << 20)
        try Command.run("mkfs.xfs", ["-q", image.string])
        let node = try rig.insert(serial: "SAATKOND-RIG-P1", bay: 5)
        let inserted = try #require(try fixture.nextAttachEvent(for: node), "no event; udevd: \(fixture.udevdLog)")
        let mountPoint = "\(fixture.scratch.path)/mnt"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: false)
        try Command.run("mount", [node, mountPoint])
        var mounted = true
        defer { if mounted { _ = try? Command.run("umount", [mountPoint]) } }
        // Whatever the insert raised besides the event seen (a fresh node raises add, then change) is left behind.
        try Command.run("udevadm", ["settle", "--timeout=20"])
        while try fixture.monitor.receive() != nil {}

        let pulledAt = ContinuousClock.now
        try rig.pull(bay: 5)
        let pulled = try #require(
            try fixture.nextEvent(within: .seconds(5)) { $0.device.devNode == node && $0.action == .change },
            "no change event; udevd: \(fixture.udevdLog)")
        let delay = ContinuousClock.now - pulledAt
        #expect(delay < .seconds(1), "the pull was announced after \(delay)")
        #expect(pulled.device.sizeBytes == 0)
        // The same medium, shrunk: a pull changes no DISKSEQ, a new attach does.
        #expect(pulled.device.diskSequence == inserted.device.diskSequence)
        #expect(rig.device(inBay: 5) == nil)

        try Command.run("umount", [mountPoint])
        mounted = false
        let again = try rig.insert(serial: "SAATKOND-RIG-P1", bay: 7)
        // The freed node is often the one reused: an event of its old life (the pull's, the unmount's) that udevd
        // handles only now is tagged as the file lies now, in bay 7, but keeps its old DISKSEQ.
        let reinserted = try #require(try fixture.nextAttachEvent(for: again), "no event; udevd: \(fixture.udevdLog)")
        #expect(reinserted.device.idSerial == inserted.device.idSerial)
        #expect(reinserted.device.idWWN == "0x5000cca25206c808")
        #expect(reinserted.device.properties["SAATKOND_BAY"] == "7")
        #expect(reinserted.device.properties["ID_FS_TYPE"] == "xfs")
    }

    @Test("a burst of twelve inserts, received only afterwards, arrives whole")
    func burst() throws {
        let fixture = try RigFixture()
        defer { fixture.close() }
        let rig = fixture.rig
        #expect(fixture.monitor.receiveBufferBytes >= 4 << 20)
        // Beside it, a monitor with the smallest buffer the kernel grants: the same burst overflows it, and that must
        // be reported (the service then lists the devices again), never lost without a word.
        let small = try UdevMonitor(context: fixture.context, receiveBufferBytes: 1)
        var nodes: [String: Int] = [:]
        for bay in 1...12 {
            _ = try rig.makeDisk(serial: "SAATKOND-RIG-BURST-\(bay)", bytes: 16 << 20)
        }
        // Nothing is received until every disk is in and udevd is done with them all.
        for bay in 1...12 {
            nodes[try rig.insert(serial: "SAATKOND-RIG-BURST-\(bay)", bay: bay)] = bay
        }
        try Command.run("udevadm", ["settle", "--timeout=30"])

        var tagged: [String: UdevEvent] = [:]
        _ = try fixture.nextEvent(within: .seconds(10)) { event in
            if let node = event.device.devNode, nodes[node] != nil, RigFixture.isAttach(event, of: node) {
                tagged[node] = event
            }
            return tagged.count == nodes.count
        }
        #expect(tagged.count == 12, "events for \(tagged.keys.sorted()); udevd: \(fixture.udevdLog)")
        for (node, event) in tagged {
            let bay = try #require(nodes[node])
            #expect(event.device.properties["SAATKOND_BAY"] == "\(bay)")
            #expect(event.device.idSerial == "SAATKOND-RIG-BURST-\(bay)")
        }

        var received = 0
        var lost = false
        while true {
            do {
                guard try small.receive() != nil else { break }
                received += 1
            } catch {
                #expect(error as? UdevError == UdevError.eventsLost(), "\(error)")
                // Reported once per overflow; the socket goes on delivering what it still holds.
                guard !lost else { break }
                lost = true
            }
        }
        #expect(lost, "a \(small.receiveBufferBytes)-byte buffer held all \(received) events")
        #expect(received < tagged.count)
    }
}

extension ScratchDirectory {
    /// Creates a sparse file at `path` (anywhere, not only in a scratch directory) and returns the path.
    static func sparse(at path: String, bytes: UInt64) throws -> String {
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw Command.Failure(description: "cannot create \(path)")
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.truncate(atOffset: bytes)
        return path
    }
}
