import Foundation
import LoopRig
import SystemPackage
import TestSupport
import Udev

/// A running udevd with the test rig's rules, a rig in a fresh directory and a monitor listening: what the rig tests
/// share. Call ``close()`` in a `defer`: it detaches every loop device of the rig, removes the rules, stops the
/// daemon if it started it, and removes the directory.
final class RigFixture {
    let scratch: ScratchDirectory
    let daemon: UdevDaemon
    let rig: LoopRig
    let context: UdevContext
    let monitor: UdevMonitor

    /// The repository's hardware/ directory, found from this file's place in Tests/UdevTests/Support.
    static let hardware = FilePath(
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("hardware").path)

    init(bays: Int = 12) throws {
        scratch = try ScratchDirectory(prefix: "saatkond-rig")
        var daemon: UdevDaemon?
        do {
            // udevd first: installing the rules would create /run/udev, and then a daemon started afterwards would
            // not know that /run/udev is its own to remove.
            daemon = try UdevDaemon.startOrReuse(logFile: "\(scratch.path)/udevd.log")
            try LoopRig.installRules(from: Self.hardware)
            rig = try LoopRig(directory: FilePath(scratch.path), bays: bays)
            // The monitor only after udevd answers: libudev subscribes to nothing without a running udevd.
            context = try UdevContext()
            monitor = try UdevMonitor(context: context)
            self.daemon = daemon!
        } catch {
            LoopRig.removeRules()
            daemon?.stop()
            scratch.remove()
            throw error
        }
    }

    /// Detaches the rig's devices (unmount first), removes the rules, stops a daemon started here, removes the files.
    func close() {
        rig.detachAll()
        LoopRig.removeRules()
        daemon.stop()
        scratch.remove()
    }

    /// What udevd logged, for a failure message.
    var udevdLog: String {
        (try? String(contentsOfFile: "\(scratch.path)/udevd.log", encoding: .utf8)) ?? "(no log: udevd was running)"
    }

    /// Receives events until one satisfies `accept`, or `timeout` passes (nil then); others are dropped.
    func nextEvent(within timeout: Duration = .seconds(10), where accept: (UdevEvent) -> Bool) throws -> UdevEvent? {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while true {
            while let event = try monitor.receive() {
                if accept(event) { return event }
            }
            let remaining = ContinuousClock.now.duration(to: deadline)
            guard remaining > .zero else { return nil }
            var request = pollfd(fd: monitor.descriptor, events: Int16(POLLIN), revents: 0)
            _ = poll(&request, 1, Int32(clamping: Int64((remaining / .milliseconds(1)).rounded(.up))))
        }
    }

    /// The event of `node`'s present medium (its DISKSEQ is the device's current one) that the rig's rules tagged
    /// with a bay. An event of the node's earlier life that udevd handles late is tagged as the device is now, so only
    /// the DISKSEQ tells it apart.
    func nextAttachEvent(for node: String, within timeout: Duration = .seconds(10)) throws -> UdevEvent? {
        try nextEvent(within: timeout) { Self.isAttach($0, of: node) }
    }

    static func isAttach(_ event: UdevEvent, of node: String) -> Bool {
        event.device.devNode == node && event.device.properties["SAATKOND_BAY"] != nil
            && event.device.diskSequence != nil && event.device.diskSequence == event.device.currentDiskSequence
    }
}
