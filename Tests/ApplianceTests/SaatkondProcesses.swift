import Foundation
import TestSupport
import Testing

/// The `saatkond` executable that `swift test` built next to this test bundle.
enum SaatkondExecutable {
    static let path: String = {
        let testBinary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return testBinary.deletingLastPathComponent().appendingPathComponent("saatkond").path
    }()

    static var exists: Bool { FileManager.default.isExecutableFile(atPath: path) }
}

/// A `saatkond dev` child process on a free loopback port, with its own state directory.
final class DevAppliance {
    let state: String
    let port: Int
    let output: String
    private let process: ChildProcess

    /// Starts the appliance and waits until it prints where it listens; `port` 0 picks a free one. With `user`, it
    /// runs as that user, from `executable` (a copy that user can reach).
    init(
        state: String, logs: String, port: Int = 0, environment: [String: String?] = [:],
        user: UnprivilegedUser? = nil, executable: String = SaatkondExecutable.path, extraArguments: [String] = [],
        startTimeout: Int = 30
    ) throws {
        guard SaatkondExecutable.exists else {
            throw TestSupportError("\(SaatkondExecutable.path) is missing; run the tests with `swift test`")
        }
        self.state = state
        output = "\(logs)/dev-\(UUID().uuidString).out"
        let arguments = ["dev", "--state", state, "--listen", "127.0.0.1:\(port)"] + extraArguments
        let command = user?.command(executable, arguments) ?? (executable: executable, arguments: arguments)
        process = try ChildProcess(
            executable: command.executable, arguments: command.arguments, output: output, errors: output + ".err",
            environment: environment)
        var found: Int?
        for _ in 0..<(startTimeout * 50) where found == nil {
            if let status = process.exited() {
                throw TestSupportError("saatkond dev exited with \(status): \(Self.read(output + ".err"))")
            }
            found = Self.listeningPort(in: Self.read(output))
            if found == nil { usleep(20_000) }
        }
        guard let found else {
            process.terminate()
            throw TestSupportError(
                "saatkond dev did not start listening in \(startTimeout) s: \(Self.read(output + ".err"))")
        }
        self.port = found
    }

    deinit {
        process.terminate()
    }

    /// The appliance's process id.
    var pid: pid_t { process.pid }

    /// Sends it `signal` (SIGHUP reloads its policy).
    func send(_ signal: Int32) {
        process.send(signal)
    }

    /// Stops it with SIGTERM, as systemd or Ctrl-C would, and returns its exit code.
    func stop() -> Int32? {
        process.send(SIGTERM)
        return process.waitForExit(timeout: 20).map(exitCode(fromWaitStatus:))
    }

    /// Kills it with SIGKILL, as a power cut would end it, and reaps it.
    func kill9() {
        process.send(SIGKILL)
        _ = process.waitForExit(timeout: 10)
    }

    var errors: String { Self.read(output + ".err") }

    static func read(_ path: String) -> String {
        (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    }

    private static func listeningPort(in text: String) -> Int? {
        guard let range = text.range(of: "receiving replication on 127.0.0.1:") else { return nil }
        return Int(text[range.upperBound...].prefix { $0.isNumber })
    }
}

/// The result of running `saatkond send`, `restore` or `verify` to completion.
struct CommandResult {
    var status: Int32
    var errors: String
    var output: String = ""
}

/// Runs `saatkond` with `arguments` to completion (at most `timeout` seconds); with `user`, as that user, from
/// `executable` (a copy that user can reach).
func runSaatkond(
    _ arguments: [String], scratch: String, timeout: Double = 300, user: UnprivilegedUser? = nil,
    executable: String = SaatkondExecutable.path
) throws -> CommandResult {
    let output = "\(scratch)/run-\(UUID().uuidString)"
    let command = user?.command(executable, arguments) ?? (executable: executable, arguments: arguments)
    let process = try ChildProcess(
        executable: command.executable, arguments: command.arguments, output: output + ".out",
        errors: output + ".err")
    guard let status = process.waitForExit(timeout: timeout) else {
        throw TestSupportError("saatkond \(arguments.joined(separator: " ")) did not finish in \(timeout) s")
    }
    return CommandResult(
        status: exitCode(fromWaitStatus: status), errors: DevAppliance.read(output + ".err"),
        output: DevAppliance.read(output + ".out"))
}

/// Writes `count` random bytes to `path` (from /dev/urandom, fast enough for hundreds of MiB).
func writeRandomFile(_ path: String, count: Int) throws {
    try Command.run("head", ["-c", "\(count)", "/dev/urandom"], toFile: path)
}

/// Whether two files hold the same bytes, compared by `cmp`.
func sameBytes(_ first: String, _ second: String) -> Bool {
    (try? Command.run("cmp", ["-s", first, second])) != nil
}
