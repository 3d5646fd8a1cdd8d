import Foundation

/// A PostgreSQL 15 cluster of a test's own: its data directory and Unix socket directory in the test's scratch
/// directory, run as an unprivileged user (PostgreSQL refuses to run as root), reachable only through the socket
/// (`listen_addresses` is empty; the port only names the socket file). It never touches a cluster of the system's
/// (Debian's `main`), and ``stop()`` (also called by deinit) ends its server: `pg_ctl stop -m fast`, else its
/// postmaster and that postmaster's children by pid.
public final class PostgresCluster {
    /// Where Debian's postgresql-15 and postgresql-client-15 install the server and its tools.
    public static let binaries = "/usr/lib/postgresql/15/bin"

    /// Debian's `postgres` account, which the server and its tools run as (they need a user with a passwd entry).
    public static let systemUser = UnprivilegedUser(account: "postgres")

    private static let tools = ["initdb", "pg_ctl", "postgres", "psql", "pgbench", "pg_basebackup"]

    /// Why a test that needs a PostgreSQL server skips, or nil when it can run one.
    public static var whyNot: String? {
        if let why = UnprivilegedUser.whyNot { return why }
        let missing = tools.filter { !FileManager.default.isExecutableFile(atPath: "\(binaries)/\($0)") }
        if !missing.isEmpty {
            return "PostgreSQL 15 is not installed (no \(missing.joined(separator: ", ")) in \(binaries)); "
                + "scripts/setup installs postgresql-15 and postgresql-client-15"
        }
        if systemUser == nil { return "there is no postgres user to run PostgreSQL as" }
        return nil
    }

    /// The data directory (`initdb`'s, or one a test fills from a base backup).
    public let dataDirectory: String
    /// The directory of the server's Unix socket (`-h` of the client tools).
    public let socketDirectory: String
    /// The port, which names the socket (`.s.PGSQL.<port>`).
    public let port: Int
    /// The server's log (`pg_ctl -l`).
    public let log: String
    public let user: UnprivilegedUser
    /// Where the standard output and error of the tools this runs go, one pair of files per run.
    private let logs: String
    /// HOME for the server and the tools: the user's own directory, not root's.
    private let home: String
    private var postmaster: pid_t?

    /// A cluster in `dataDirectory` (not created yet: see ``create()``) with its socket in `socketDirectory`, both
    /// of which `user` must be able to create or own; `logs` is a directory of the test's for the tools' output.
    public init(
        dataDirectory: String, socketDirectory: String, user: UnprivilegedUser, home: String, logs: String
    )
        throws
    {
        self.dataDirectory = dataDirectory
        self.socketDirectory = socketDirectory
        self.user = user
        self.home = home
        self.logs = logs
        log = "\(dataDirectory).log"
        port = try LoopbackPort.free()
    }

    deinit {
        stop()
    }

    /// The connection options of the client tools (psql, pgbench, pg_basebackup).
    public var connection: [String] { ["-h", socketDirectory, "-p", "\(port)"] }

    /// `initdb`: a new cluster whose local connections are trusted (only `user` can reach the socket directory).
    public func create() throws {
        try run(
            "\(Self.binaries)/initdb",
            ["-D", dataDirectory, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale", "C", "--no-sync"])
    }

    /// Appends `settings` to postgresql.conf, where they override earlier lines (those of a base backup's copy);
    /// every value is written quoted, which PostgreSQL accepts for settings of any type.
    public func configure(_ settings: KeyValuePairs<String, String>) throws {
        let lines = settings.map { "\($0.key) = '\($0.value.replacingOccurrences(of: "'", with: "''"))'\n" }
        let file = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(dataDirectory)/postgresql.conf"))
        defer { try? file.close() }
        try file.seekToEnd()
        try file.write(contentsOf: Data(("\n# PostgresCluster\n" + lines.joined()).utf8))
    }

    /// Starts the server with `pg_ctl start -w` on the socket alone, and notes its postmaster's pid.
    public func start(timeout: Int = 60) throws {
        let options = "-p \(port) -k \(socketDirectory) -c listen_addresses=''"
        do {
            try run(
                "\(Self.binaries)/pg_ctl",
                ["start", "-D", dataDirectory, "-l", log, "-w", "-t", "\(timeout)", "-o", options],
                timeout: Double(timeout + 10))
        } catch {
            notePostmaster()
            throw TestSupportError("\(error)\nserver log:\n\(serverLog(lines: 30))")
        }
        notePostmaster()
    }

    /// Runs `sql` with psql (stopping at the first error) and returns its unaligned, tuples-only output.
    @discardableResult
    public func query(_ sql: String, timeout: Double = 60) throws -> String {
        try run(
            "\(Self.binaries)/psql",
            ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"] + connection + ["-d", "postgres", "-c", sql],
            timeout: timeout)
    }

    /// Runs pgbench with `arguments` against the `postgres` database.
    @discardableResult
    public func pgbench(_ arguments: [String], timeout: Double = 120) throws -> String {
        try run("\(Self.binaries)/pgbench", connection + arguments + ["postgres"], timeout: timeout)
    }

    /// Polls `sql` until it returns `expected`, or throws after `timeout` seconds with the last answer or error
    /// (a server still starting up refuses connections for a while).
    public func wait(until sql: String, is expected: String, timeout: Double = 60) throws {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        var last = ""
        while ContinuousClock.now < deadline {
            do {
                last = try query(sql, timeout: 10)
                if last == expected { return }
            } catch {
                last = "\(error)"
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw TestSupportError(
            "\(sql) did not return \(expected) in \(timeout) s; last: \(last)\nserver log:\n\(serverLog(lines: 30))")
    }

    /// Runs `executable` with `arguments` as the cluster's user; its standard output, or an error with its standard
    /// error when it exits non-zero or runs longer than `timeout` seconds.
    @discardableResult
    public func run(_ executable: String, _ arguments: [String], timeout: Double = 120) throws -> String {
        let result = try runStatus(executable, arguments, timeout: timeout)
        guard result.status == 0 else {
            throw TestSupportError(
                "\(executable) \(arguments.joined(separator: " ")) exited with \(result.status): \(result.errors)")
        }
        return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Runs `script` with bash as the cluster's user (for pipelines, with pipefail), as ``run(_:_:timeout:)``.
    @discardableResult
    public func shell(_ script: String, timeout: Double = 120) throws -> String {
        try run("/bin/bash", ["-c", "set -euo pipefail; " + script], timeout: timeout)
    }

    /// Runs `executable` as the cluster's user and returns its exit code, standard output and standard error.
    public func runStatus(
        _ executable: String, _ arguments: [String], timeout: Double = 120
    ) throws -> (
        status: Int32, output: String, errors: String
    ) {
        let files = "\(logs)/postgres-\(UUID().uuidString)"
        let command = user.command(executable, arguments)
        let process = try ChildProcess(
            executable: command.executable, arguments: command.arguments, output: files + ".out",
            errors: files + ".err", environment: ["HOME": home, "PGHOST": nil, "PGPORT": nil, "PGDATA": nil])
        guard let status = process.waitForExit(timeout: timeout) else {
            throw TestSupportError("\(executable) \(arguments.joined(separator: " ")) did not finish in \(timeout) s")
        }
        func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
        return (exitCode(fromWaitStatus: status), read(files + ".out"), read(files + ".err"))
    }

    /// The last `lines` lines of the server's log.
    public func serverLog(lines: Int = .max) -> String {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    /// Stops the server, if it runs: `pg_ctl stop -m fast`; when that fails, SIGQUIT (immediate shutdown) and then
    /// SIGKILL to the postmaster and to each of its children, by pid. Idempotent.
    public func stop() {
        if postmaster == nil { notePostmaster() }
        guard let pid = postmaster else { return }
        postmaster = nil
        guard Self.isRunning(pid) else { return }
        _ = try? run(
            "\(Self.binaries)/pg_ctl", ["stop", "-D", dataDirectory, "-m", "fast", "-w", "-t", "30"], timeout: 40)
        guard Self.isRunning(pid) else { return }
        let children = Self.children(of: pid)
        kill(pid, SIGQUIT)
        if Self.waitForEnd(of: pid, seconds: 5) { return }
        kill(pid, SIGKILL)
        for child in children where Self.isRunning(child) { kill(child, SIGKILL) }
        _ = Self.waitForEnd(of: pid, seconds: 5)
    }

    /// The postmaster's pid, from the first line of postmaster.pid (which pg_ctl's server writes, and removes at a
    /// clean shutdown).
    private func notePostmaster() {
        guard let text = try? String(contentsOfFile: "\(dataDirectory)/postmaster.pid", encoding: .utf8),
            let first = text.split(separator: "\n").first, let pid = pid_t(first), pid > 0
        else { return }
        postmaster = pid
    }

    /// Whether `pid` is a live process (a zombie that nobody reaped yet counts as ended).
    private static func isRunning(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        return state(of: pid).map { $0 != "Z" && $0 != "X" } ?? false
    }

    private static func waitForEnd(of pid: pid_t, seconds: Double) -> Bool {
        for _ in 0..<Int(seconds / 0.02) {
            if !isRunning(pid) { return true }
            usleep(20_000)
        }
        return !isRunning(pid)
    }

    /// The fields of /proc/PID/stat after the command name: state, then the parent's pid.
    private static func statFields(of pid: pid_t) -> [Substring]? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        return text[text.index(after: close)...].split(separator: " ")
    }

    private static func state(of pid: pid_t) -> Character? {
        statFields(of: pid)?.first?.first
    }

    private static func children(of parent: pid_t) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { pid_t($0) }.filter { pid in
            guard let fields = statFields(of: pid), fields.count > 1 else { return false }
            return pid_t(fields[1]) == parent
        }
    }
}
