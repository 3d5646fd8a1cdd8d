import Disks
import Foundation
import LocalControl
import LoopRig
import SystemPackage
import TestSupport
import Testing

/// A `saatkond dev --loop-bays 12` child process over the test rig: twelve loop-device bays, real udev events, real
/// XFS mounts. ``remove()`` stops it and then unmounts, detaches and deletes whatever is left, by path and node.
final class LoopChassis {
    static let hardware: String = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("hardware").path
    }()

    /// Loop devices, mounts, udevd and mkfs.xfs need root and these tools.
    static var usable: Bool {
        geteuid() == 0
            && ["losetup", "udevadm", "mkfs.xfs", "blkid", "mount"].allSatisfy { Command.locate($0) != nil }
            && FileManager.default.isExecutableFile(atPath: "/lib/systemd/systemd-udevd")
    }

    let scratch: ScratchDirectory
    let state: String
    let rig: LoopRig
    private(set) var dev: DevAppliance?
    let extraArguments: [String]

    init(extraArguments: [String] = []) throws {
        scratch = try ScratchDirectory()
        state = "\(scratch.path)/state"
        self.extraArguments = extraArguments
        do {
            dev = try Self.start(state: state, logs: scratch.path, extraArguments: extraArguments)
            rig = try LoopRig(directory: FilePath("\(state)/saatkond-rig"), bays: 12)
        } catch {
            Self.cleanUp(state: state)
            scratch.remove()
            throw error
        }
    }

    private static func start(state: String, logs: String, extraArguments: [String]) throws -> DevAppliance {
        try DevAppliance(
            state: state, logs: logs,
            extraArguments: ["--loop-bays", "12", "--hardware", hardware, "--rebuild-rate", "0"] + extraArguments,
            startTimeout: 120)
    }

    var port: Int { dev?.port ?? 0 }
    var socket: String { "\(state)/disks.sock" }
    var membersRoot: String { "\(state)/disk-members" }

    /// Stops the appliance (SIGTERM) and starts it again on the same state.
    func restart(extraArguments more: [String] = []) throws {
        _ = dev?.stop()
        dev = nil
        dev = try Self.start(state: state, logs: scratch.path, extraArguments: extraArguments + more)
    }

    func remove() {
        if let dev, dev.stop() == nil { dev.kill9() }
        dev = nil
        Self.cleanUp(state: state)
        rig.detachAll()
        scratch.remove()
    }

    /// Unmounts whatever is still mounted under `state` (deepest first), by path.
    private static func cleanUp(state: String) {
        let mounts = ((try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)) ?? "")
            .split(separator: "\n").compactMap { line -> String? in
                let fields = line.split(separator: " ")
                return fields.count > 1 && fields[1].hasPrefix(state) ? String(fields[1]) : nil
            }
        for mount in mounts.sorted(by: { $0.count > $1.count }) {
            _ = try? Command.run("umount", ["--lazy", mount])
        }
        LoopRig.removeRules()
    }

    // MARK: The state socket

    func status() throws -> DisksStatus {
        let answer = try LocalControlClient.request(path: socket, op: "state", body: [:], timeout: .seconds(10))
        return try JSONDecoder().decode(DisksStatus.self, from: JSONEncoder().encode(answer))
    }

    func order(_ op: String, _ body: [String: JSONValue]) throws -> [String: JSONValue] {
        try LocalControlClient.request(path: socket, op: op, body: body, timeout: .seconds(30))
    }

    /// The reason the service refused an order, or nil when it carried it out.
    func refusal(_ op: String, _ body: [String: JSONValue]) throws -> String? {
        do {
            _ = try order(op, body)
            return nil
        } catch let error as LocalControlError where error.refused {
            return error.description
        }
    }

    /// Polls the state every 20 ms until `condition` holds; returns it and how long it took.
    @discardableResult
    func waitFor(
        _ what: String, timeout: Duration = .seconds(60), _ condition: (DisksStatus) -> Bool
    ) throws -> (status: DisksStatus, after: Duration) {
        let start = ContinuousClock.now
        var last: DisksStatus?
        while ContinuousClock.now - start < timeout {
            if let status = try? status() {
                last = status
                if condition(status) { return (status, ContinuousClock.now - start) }
            }
            usleep(20_000)
        }
        throw TestSupportError("waited \(timeout) for \(what); last state: \(String(describing: last))")
    }

    func disk(inBay bay: Int, _ status: DisksStatus) -> DisksStatus.DiskStatus? {
        status.bays.first { $0.bay == bay }?.disk
    }

    /// The array formed from the twelve blank disks: members 0…10 in bays 1…11, a spare in bay 12.
    func waitUntilFormed() throws -> DisksStatus {
        try waitFor("the array to form", timeout: .seconds(120)) { status in
            status.array.id != nil && status.array.wholeMembers == 11
        }.status
    }

    var custodyLog: String {
        (try? String(contentsOfFile: "\(state)/disks/custody.log", encoding: .utf8)) ?? ""
    }

    var output: String { (dev?.errors ?? "") }

    // MARK: Streams

    func send(_ file: String, stream: String, giveUpAfter: Int = 120) throws -> CommandResult {
        try runSaatkond(
            [
                "send", "--state", state, "--connect", "127.0.0.1:\(port)", "--stream", stream,
                "--give-up-after", "\(giveUpAfter)", file,
            ], scratch: scratch.path, timeout: Double(giveUpAfter + 60))
    }

    func restore(stream: String, to output: String) throws -> CommandResult {
        try runSaatkond(
            ["restore", "--state", state, "--connect", "127.0.0.1:\(port)", "--stream", stream, "--output", output],
            scratch: scratch.path, timeout: 300)
    }
}
