import DurableFiles
import Foundation
import Synchronization
import SystemPackage

/// A swtpm (TPM 2.0 simulator) that `saatkond dev` (and `scripts/bench keys`) starts for its keys service, with its state in the development
/// state directory so that the sealed keys survive a restart, and stops when it stops, by its pid.
public final class SoftwareTPMProcess: Sendable {
    /// swtpm on PATH, if installed.
    public static var executable: String? {
        (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
            .map { "\($0)/swtpm" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Its server port; the control port is the next.
    public let port: Int
    private let pid: pid_t
    /// Set once swtpm was reaped: its pid may then belong to another process, and is never signalled again.
    private let reaped = Mutex(false)
    /// Holds the thread that spawned swtpm until swtpm is stopped: the parent-death signal follows that thread,
    /// so it must not end before swtpm (a pool thread might, when idle).
    private let spawner: DispatchSemaphore

    private init(port: Int, pid: pid_t, spawner: DispatchSemaphore) {
        self.port = port
        self.pid = pid
        self.spawner = spawner
    }

    /// The TCTI that reaches it.
    public var tcti: String { "swtpm:host=127.0.0.1,port=\(port)" }

    /// Starts swtpm and makes the connection with `connect`; again on other ports while swtpm exits at once, for up
    /// to ten seconds: its ports were taken, or the swtpm of a development process just killed still holds the
    /// state's lock while it shuts down.
    public static func start<Connection>(
        executable: String, state: FilePath, connect: (String) throws -> Connection
    ) throws -> (SoftwareTPMProcess, Connection) {
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            let started = try start(executable: executable, state: state)
            do {
                return (started, try started.connect(connect))
            } catch {
                started.stop()
                guard ContinuousClock.now < deadline else { throw error }
                Thread.sleep(forTimeInterval: 0.2)
            }
        }
    }

    /// Starts swtpm on a random pair of loopback ports (server, then control), with no signal blocked (this
    /// process's threads block the ones its services handle, and a child would inherit that mask and never hear
    /// SIGTERM), through `setpriv --pdeathsig TERM` where util-linux has it: a development process that dies, even
    /// by SIGKILL, leaves no swtpm behind.
    private static func start(executable: String, state: FilePath) throws -> SoftwareTPMProcess {
        try FileSystemCalls.createDirectories(state)
        // Below the ephemeral range (32768 and up), where connections to it could hold a port it wants.
        let port = Int.random(in: 20_000...32_000)
        var arguments = [
            executable, "socket", "--tpm2", "--tpmstate", "dir=\(state.string)",
            "--server", "type=tcp,bindaddr=127.0.0.1,port=\(port)",
            "--ctrl", "type=tcp,bindaddr=127.0.0.1,port=\(port + 1)",
            "--flags", "not-need-init,startup-clear",
        ]
        if let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"].first(where: FileManager.default.isExecutableFile) {
            arguments = [setpriv, "--pdeathsig", "TERM", "--"] + arguments
        }
        let command = arguments
        let release = DispatchSemaphore(value: 0)
        let spawned = DispatchSemaphore(value: 0)
        let outcome = Mutex<Result<pid_t, KeysError>?>(nil)
        let thread = Thread {
            outcome.withLock { $0 = spawn(command) }
            spawned.signal()
            release.wait()
        }
        thread.name = "swtpm-spawner"
        thread.start()
        spawned.wait()
        switch outcome.withLock({ $0 }) {
        case .success(let pid):
            return SoftwareTPMProcess(port: port, pid: pid, spawner: release)
        case .failure(let error):
            release.signal()
            throw error
        case nil:
            release.signal()
            throw KeysError("swtpm was not started")
        }
    }

    private static func spawn(_ arguments: [String]) -> Result<pid_t, KeysError> {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, arguments[0], &actions, &attributes, argv, environ)
        guard result == 0 else {
            return .failure(KeysError("cannot start \(arguments[0]): \(String(cString: strerror(result)))"))
        }
        return .success(pid)
    }

    /// Makes the connection once swtpm listens on both ports (read from /proc/net/tcp: a failed attempt would only
    /// fill the log with ESAPI's complaints). Throws once swtpm has exited (its ports were taken) or after five
    /// seconds.
    private func connect<Result>(_ body: (String) throws -> Result) throws -> Result {
        for _ in 0..<250 {
            guard isRunning else { break }
            if Self.listening(on: [port, port + 1]) { return try body(tcti) }
            Thread.sleep(forTimeInterval: 0.02)
        }
        throw KeysError(
            "the swtpm started for the development keys did not listen on ports \(port)/\(port + 1)")
    }

    /// Stops swtpm: SIGTERM to its pid, SIGKILL after five seconds, and reaps it; then lets its spawner end.
    public func stop() {
        defer { spawner.signal() }
        guard !reaped.withLock({ $0 }) else { return }
        kill(pid, SIGTERM)
        for _ in 0..<500 {
            if reap(blocking: false) { return }
            Thread.sleep(forTimeInterval: 0.01)
        }
        kill(pid, SIGKILL)
        _ = reap(blocking: true)
    }

    private var isRunning: Bool {
        !reap(blocking: false)
    }

    /// Whether swtpm has exited (and is reaped, by this call or an earlier one).
    private func reap(blocking: Bool) -> Bool {
        reaped.withLock { reaped in
            if reaped { return true }
            var status: Int32 = 0
            let result = waitpid(pid, &status, blocking ? 0 : WNOHANG)
            reaped = result == pid || (result == -1 && errno == ECHILD)
            return reaped
        }
    }

    /// Whether every one of `ports` has a listening socket on 127.0.0.1 (state 0A in /proc/net/tcp).
    private static func listening(on ports: [Int]) -> Bool {
        guard let table = try? String(contentsOfFile: "/proc/net/tcp", encoding: .utf8) else { return false }
        let listening = Set(
            table.split(separator: "\n").dropFirst().compactMap { line -> Int? in
                let fields = line.split(separator: " ")
                guard fields.count > 3, fields[3] == "0A" else { return nil }
                let address = fields[1].split(separator: ":")
                guard address.count == 2, address[0] == "0100007F" else { return nil }
                return Int(address[1], radix: 16)
            })
        return ports.allSatisfy(listening.contains)
    }
}
