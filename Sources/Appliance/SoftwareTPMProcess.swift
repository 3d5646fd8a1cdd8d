import DurableFiles
import Foundation
import SystemPackage

/// A swtpm (TPM 2.0 simulator) that `saatkond dev` starts for its keys service, with its state in the development
/// state directory so that the sealed keys survive a restart, and stops when it stops, by its pid.
final class SoftwareTPMProcess: @unchecked Sendable {
    // @unchecked Sendable: `process` is started before the object exists and afterwards only asked whether it runs
    // and terminated, which Foundation's Process allows from any thread.
    /// swtpm on PATH, if installed.
    static var executable: String? {
        (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
            .map { "\($0)/swtpm" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// The TCTI that reaches it.
    let tcti: String
    private let process: Process

    private init(tcti: String, process: Process) {
        self.tcti = tcti
        self.process = process
    }

    /// Starts swtpm on a random pair of loopback ports (server, then control) with `--terminate`: it ends when its
    /// one client's connection closes, so a development process that dies, even by SIGKILL, leaves no swtpm
    /// behind. The caller's first connection is therefore the one that matters: ``connect(_:)`` makes it.
    static func start(executable: String, state: FilePath) throws -> SoftwareTPMProcess {
        try FileSystemCalls.createDirectories(state)
        let port = Int.random(in: 20_000...60_000)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [
            "socket", "--tpm2", "--tpmstate", "dir=\(state.string)", "--terminate",
            "--server", "type=tcp,bindaddr=127.0.0.1,port=\(port)",
            "--ctrl", "type=tcp,bindaddr=127.0.0.1,port=\(port + 1)",
            "--flags", "not-need-init,startup-clear",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return SoftwareTPMProcess(tcti: "swtpm:host=127.0.0.1,port=\(port)", process: process)
    }

    /// Makes the first (and only) connection, retrying while swtpm starts to listen (it binds within moments);
    /// throws once swtpm has exited (its ports were taken) or after five seconds.
    func connect<Result>(_ body: (String) throws -> Result) throws -> Result {
        var lastError: any Error = ConfigurationError("swtpm did not answer")
        for _ in 0..<250 {
            guard process.isRunning else { break }
            do {
                return try body(tcti)
            } catch {
                lastError = error
                Thread.sleep(forTimeInterval: 0.02)
            }
        }
        stop()
        throw ConfigurationError("cannot reach the swtpm started for the development keys: \(lastError)")
    }

    /// Stops swtpm (SIGTERM to its pid) and waits for it.
    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }
}
