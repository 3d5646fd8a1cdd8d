import Foundation

/// systemd-udevd for a loop-device rig (`saatkond dev --loop-bays`, the disks benchmark): the one running, or a
/// child process started and stopped by pid.
public final class UdevDaemonProcess: Sendable {
    private let process: Process?
    /// Whether /run/udev was there before the daemon started: a machine without a udev database is left without one.
    private let createdRunDirectory: Bool

    private init(process: Process?, createdRunDirectory: Bool = false) {
        self.process = process
        self.createdRunDirectory = createdRunDirectory
    }

    public static var isRunning: Bool {
        guard FileManager.default.fileExists(atPath: "/run/udev/control") else { return false }
        let ping = Process()
        ping.executableURL = URL(fileURLWithPath: "/bin/udevadm")
        ping.arguments = ["control", "--ping", "--timeout=2"]
        ping.standardOutput = FileHandle.nullDevice
        ping.standardError = FileHandle.nullDevice
        guard (try? ping.run()) != nil else { return false }
        ping.waitUntilExit()
        return ping.terminationStatus == 0
    }

    public static func startOrReuse(logFile: String) throws -> UdevDaemonProcess {
        if isRunning { return UdevDaemonProcess(process: nil) }
        _ = FileManager.default.createFile(atPath: logFile, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logFile))
        let createdRunDirectory = !FileManager.default.fileExists(atPath: "/run/udev")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/lib/systemd/systemd-udevd")
        process.standardOutput = log
        process.standardError = log
        try process.run()
        let daemon = UdevDaemonProcess(process: process, createdRunDirectory: createdRunDirectory)
        let deadline = ContinuousClock.now + .seconds(10)
        while !isRunning {
            guard process.isRunning, ContinuousClock.now < deadline else {
                daemon.stop()
                throw DisksConfigurationError("systemd-udevd did not start; see \(logFile)")
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return daemon
    }

    public func stop() {
        guard let process else { return }
        if process.isRunning {
            // Its workers still busy with the last detaches would write the database again after it is removed.
            let settle = Process()
            settle.executableURL = URL(fileURLWithPath: "/bin/udevadm")
            settle.arguments = ["settle", "--timeout=10"]
            try? settle.run()
            settle.waitUntilExit()
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
        if createdRunDirectory { try? FileManager.default.removeItem(atPath: "/run/udev") }
    }
}
