import Foundation
import TPM2
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A real swtpm (TPM 2.0 simulator) started for one test, on free loopback ports and a state directory of
/// its own, so that tests running in parallel never share a TPM.
///
/// swtpm needs no `swtpm_setup` for these tests: without one it manufactures a TPM with no endorsement
/// key or certificates on first start, which is all that random numbers and PCRs need. A later test that
/// needs an EK must run `swtpm_setup --tpm2 --tpmstate DIR --createek` first.
public final class SoftwareTPM {
    /// Where swtpm is installed, found on PATH; `nil` skips the tests that need it.
    public static let executable: String? = findOnPath("swtpm")

    /// Where swtpm_setup (package swtpm-tools) is installed; needed only to choose the PCR banks.
    public static let setupExecutable: String? = findOnPath("swtpm_setup")

    /// Whether swtpm is installed, for `.enabled(if:)`.
    public static var isInstalled: Bool { executable != nil }

    /// Whether swtpm_setup is installed too, for tests that choose the allocated PCR banks.
    public static var canAllocateBanks: Bool { executable != nil && setupExecutable != nil }

    /// The skip message for tests that need swtpm.
    public static let missingMessage: Comment =
        "swtpm is not installed (apt install swtpm swtpm-tools); the TPM tests need a real one"

    /// The server port; the control port is the next one, as the swtpm TCTI expects.
    public let port: Int

    /// The TCTI configuration that reaches this TPM.
    public var tcti: String { "swtpm:host=127.0.0.1,port=\(port)" }

    private let process: ChildProcess
    private let directory: URL

    private init(port: Int, process: ChildProcess, directory: URL) {
        self.port = port
        self.process = process
        self.directory = directory
    }

    deinit {
        // A safety net only: `run` stops the TPM in a defer.
        stop()
    }

    /// Starts a fresh swtpm, runs `body` with it, and stops it and removes its state afterwards, also
    /// when `body` throws.
    ///
    /// - Parameters:
    ///   - startsUp: whether swtpm sends TPM2_Startup itself, as firmware does on a real machine;
    ///     `false` leaves that to the client.
    ///   - banks: the PCR banks to allocate with swtpm_setup before starting; `nil` keeps swtpm's
    ///     default of every bank it knows (sha1, sha256, sha384, sha512).
    public static func run<Result>(
        startsUp: Bool = true,
        banks: [PCRBank]? = nil,
        _ body: (SoftwareTPM) throws -> Result
    ) throws -> Result {
        let tpm = try start(startsUp: startsUp, banks: banks)
        defer { tpm.stop() }
        return try body(tpm)
    }

    /// The same as `run(startsUp:_:)` for an async `body`.
    public static func run<Result>(
        startsUp: Bool = true,
        _ body: (SoftwareTPM) async throws -> Result
    ) async throws -> Result {
        let tpm = try start(startsUp: startsUp, banks: nil)
        defer { tpm.stop() }
        return try await body(tpm)
    }

    /// Sends swtpm `signal` by its pid (SIGSTOP hangs the TPM, SIGCONT lets it answer again).
    public func send(_ signal: Int32) {
        process.send(signal)
    }

    /// Stops swtpm by its pid (SIGTERM, then SIGKILL after a grace period) and removes its state.
    public func stop() {
        process.terminate()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Starts a fresh swtpm that the caller stops (``stop()``, by its pid), e.g. in a `defer`.
    public static func start() throws -> SoftwareTPM {
        try start(startsUp: true, banks: nil)
    }

    private static func start(startsUp: Bool, banks: [PCRBank]?) throws -> SoftwareTPM {
        guard let executable else { throw SoftwareTPMError("swtpm is not installed") }
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("saatkond-swtpm-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
        let log = directory.appendingPathComponent("swtpm.log").path
        do {
            if let banks { try allocate(banks, directory: directory.path, log: log) }
            return try launch(executable, startsUp: startsUp, directory: directory, log: log)
        } catch {
            try? FileManager.default.removeItem(at: directory)
            throw error
        }
    }

    /// Manufactures the TPM state in `directory` with only `banks` allocated.
    private static func allocate(_ banks: [PCRBank], directory: String, log: String) throws {
        guard let setupExecutable else { throw SoftwareTPMError("swtpm_setup is not installed") }
        let arguments = [
            "--tpm2", "--tpmstate", directory, "--pcr-banks", banks.map(\.description).joined(separator: ","),
        ]
        let setup = try ChildProcess(executable: setupExecutable, arguments: arguments, output: log)
        let status = setup.waitForExit(timeout: 60)
        guard status == 0 else {
            let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            throw SoftwareTPMError("swtpm_setup failed with status \(status.map(String.init) ?? "timeout"): \(output)")
        }
    }

    private static func launch(
        _ executable: String,
        startsUp: Bool,
        directory: URL,
        log: String
    ) throws -> SoftwareTPM {
        var failures: [String] = []
        // Another process may take the ports between our probe and swtpm's bind; swtpm then exits and
        // the next attempt picks other ports.
        for _ in 1...5 {
            let port = try LoopbackPort.freePair()
            let process = try ChildProcess(
                executable: executable,
                arguments: arguments(directory: directory.path, port: port, startsUp: startsUp),
                output: log
            )
            switch LoopbackPort.waitUntilListening(ports: [port, port + 1], process: process, timeout: 10) {
            case .listening:
                return SoftwareTPM(port: port, process: process, directory: directory)
            case .exited(let status):
                failures.append("ports \(port)/\(port + 1): swtpm exited with status \(status)")
            case .timedOut:
                process.terminate()
                failures.append("ports \(port)/\(port + 1): swtpm did not listen within 10 s")
            }
        }
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        throw SoftwareTPMError("swtpm did not start: \(failures.joined(separator: "; ")). Its output: \(output)")
    }

    private static func arguments(directory: String, port: Int, startsUp: Bool) -> [String] {
        [
            "socket", "--tpm2",
            "--tpmstate", "dir=\(directory)",
            "--server", "type=tcp,port=\(port),bindaddr=127.0.0.1",
            "--ctrl", "type=tcp,port=\(port + 1),bindaddr=127.0.0.1",
            "--flags", startsUp ? "not-need-init,startup-clear" : "not-need-init",
        ]
    }

    private static func findOnPath(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":")
            .map { "\($0)/\(name)" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}

/// Why a test's swtpm could not be started.
public struct SoftwareTPMError: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
