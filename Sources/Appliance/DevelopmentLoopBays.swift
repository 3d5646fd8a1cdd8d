import Chassis
import CryptoPrimitives
import DevelopmentIdentity
import Disks
import Foundation
import Logging
import LoopRig
import StoreFormat
import SystemPackage

/// `saatkond dev --loop-bays N`: the development appliance over a chassis whose bays are loop devices, with the disks
/// service running in the same process, so that anyone can pull and insert disks (`saatkond rig`) on a workstation.
///
/// Needs root (loop devices, mounts) and a udevd: one that runs is used, else one is started as a child process and
/// stopped at the end. The rig lives in `<state>/saatkond-rig`; the first start makes N blank 1 GiB disks (sparse)
/// and inserts one per bay, and the disks service forms the array from them. At the end the members are unmounted
/// and the loop devices detached; each image stays in its bay, and the next start attaches it again.
struct DevelopmentLoopBays: Sendable {
    let state: StateDirectory
    let bays: Int
    let hardware: FilePath
    let scrubEvery: Duration?
    let rebuildBytesPerSecond: Int?
    let logger: Logger

    static let diskBytes: UInt64 = 1 << 30

    var rigDirectory: FilePath { state.path.appending("saatkond-rig") }
    var membersRoot: FilePath { state.path.appending("disk-members") }
    var disksState: FilePath { state.path.appending("disks") }
    var socket: FilePath { state.path.appending("disks.sock") }

    /// Prepares the rig and returns the disks service to run, and what to undo at the end.
    func prepare(keys: StorageKeys) throws -> (service: DisksService, rig: LoopRig, udev: UdevDaemonProcess) {
        guard geteuid() == 0 else {
            throw ConfigurationError("saatkond dev --loop-bays needs root: it attaches loop devices and mounts them")
        }
        let rig = try LoopRig(directory: rigDirectory, bays: bays)
        // udevd first: it then knows whether /run/udev was there before (the rules are put under it).
        let udev = try UdevDaemonProcess.startOrReuse(logFile: state.path.appending("udevd.log").string)
        try LoopRig.installRules(from: hardware)
        try FileManager.default.createDirectory(atPath: disksState.string, withIntermediateDirectories: true)
        let chassis = disksState.appending("chassis.bays")
        let map = BayMap(
            chassis: "saatkond dev rig (\(bays) loop-device bays)",
            bays: (1...bays).map { Bay(number: $0, label: "\($0 - 1)", indicator: .rig) })
        try map.text.write(toFile: chassis.string, atomically: true, encoding: .utf8)
        var configuration = DisksConfiguration(
            chassis: chassis.string, membersRoot: membersRoot.string, state: disksState.string,
            socket: socket.string, dataShards: 8, parityShards: 3, storagePublicKey: "", journalKey: "")
        configuration.rig = rig.directory.string
        if let scrubEvery { configuration.scrubEvery = scrubEvery }
        configuration.rebuildBytesPerSecond = rebuildBytesPerSecond
        let service = DisksService(configuration: configuration, keys: keys, logger: logger)
        return (service, rig, udev)
    }

    /// Inserts the rig's disks once the service listens: the images left in their bays by the last run, or, the
    /// first time, one new blank disk per bay.
    func insertDisks(_ rig: LoopRig) throws {
        var inserted = 0
        for bay in 1...bays where rig.device(inBay: bay) == nil {
            let bayDirectory = rig.bayDirectory(bay).string
            for image in (try? FileManager.default.contentsOfDirectory(atPath: bayDirectory)) ?? [] {
                guard image.hasSuffix(".img") else { continue }
                try FileManager.default.moveItem(
                    atPath: "\(bayDirectory)/\(image)", toPath: rig.disksDirectory.appending(image).string)
                let serial = String(image.dropLast(4).split(separator: "@")[0])
                _ = try rig.insert(serial: serial, bay: bay)
                inserted += 1
            }
        }
        let everInserted = (1...bays).contains { bay in
            ((try? FileManager.default.contentsOfDirectory(atPath: rig.bayDirectory(bay).string)) ?? []).contains {
                $0.hasSuffix(".img")
            }
        }
        guard !everInserted else { return }
        for bay in 1...bays {
            let serial = String(format: "DEV-%02d", bay)
            _ = try rig.makeDisk(serial: serial, bytes: Self.diskBytes)
            _ = try rig.insert(serial: serial, bay: bay)
        }
    }

    /// Unmounts every member and detaches every loop device of the rig, by their paths and nodes.
    func tearDown(rig: LoopRig, udev: UdevDaemonProcess) {
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: membersRoot.string)) ?? [] {
            let path = membersRoot.appending(entry).string
            _ = try? Process.run(URL(fileURLWithPath: "/bin/umount"), arguments: ["--lazy", path]).waitUntilExit()
        }
        rig.detachAll()
        LoopRig.removeRules()
        udev.stop()
    }
}
