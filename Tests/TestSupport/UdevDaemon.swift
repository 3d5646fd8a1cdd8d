import Foundation

/// systemd-udevd as a plain child process, or the one that is already running.
///
/// The udev database (/run/udev/data) is only written by a running udevd; without one, libudev sees the kernel's
/// properties only. Call ``stop()`` in a `defer`: it stops only a daemon this object started, by its pid.
public final class UdevDaemon {
    /// Where Debian installs the udev daemon.
    public static let udevdPath = "/lib/systemd/systemd-udevd"

    private let process: Process?
    private let createdRunDirectory: Bool

    private init(process: Process?, createdRunDirectory: Bool) {
        self.process = process
        self.createdRunDirectory = createdRunDirectory
    }

    /// Whether a udevd answers on /run/udev/control; a control file left behind by a dead udevd does not answer.
    public static var isRunning: Bool {
        guard FileManager.default.fileExists(atPath: "/run/udev/control") else { return false }
        return (try? Command.run("udevadm", ["control", "--ping", "--timeout=2"])) != nil
    }

    /// Uses the running udevd, or starts one with its output in `logFile` and waits until it answers.
    public static func startOrReuse(logFile: String) throws -> UdevDaemon {
        if isRunning { return UdevDaemon(process: nil, createdRunDirectory: false) }

        let createdRunDirectory = !FileManager.default.fileExists(atPath: "/run/udev")
        guard FileManager.default.createFile(atPath: logFile, contents: nil) else {
            throw Command.Failure(description: "cannot create \(logFile)")
        }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logFile))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.udevdPath)
        process.arguments = []
        process.standardOutput = log
        process.standardError = log
        try process.run()
        try? log.close()
        let daemon = UdevDaemon(process: process, createdRunDirectory: createdRunDirectory)

        // Triggering before udevd listens on its netlink socket would lose the event, so wait for it to answer.
        let deadline = ContinuousClock.now.advanced(by: .seconds(10))
        while !isRunning {
            guard process.isRunning, ContinuousClock.now < deadline else {
                daemon.stop()
                let output = (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
                throw Command.Failure(description: "systemd-udevd did not start: \(output)")
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return daemon
    }

    /// Stops the daemon this object started: SIGTERM, up to five seconds' grace, then SIGKILL.
    public func stop() {
        guard let process else { return }
        let pid = process.processIdentifier
        if process.isRunning {
            // Its workers still busy with the last detaches would write the database again after it is removed.
            _ = try? Command.run("udevadm", ["settle", "--timeout=10"])
            kill(pid, SIGTERM)
            let deadline = ContinuousClock.now.advanced(by: .seconds(5))
            while process.isRunning && ContinuousClock.now < deadline {
                Thread.sleep(forTimeInterval: 0.05)
            }
            if process.isRunning {
                kill(pid, SIGKILL)
            }
        }
        process.waitUntilExit()
        // The machine had no udev database before; leave it without one rather than with a stale one.
        if createdRunDirectory {
            try? FileManager.default.removeItem(atPath: "/run/udev")
        }
    }
}
