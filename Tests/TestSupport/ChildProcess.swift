import Foundation

/// A child process started with posix_spawn and reaped by its own pid, so that stopping it never
/// touches another process and never races with anyone else's waitpid.
public final class ChildProcess {
    /// The child's pid.
    public let pid: pid_t
    private var exitStatus: Int32?

    /// Starts `executable` with `arguments`, stdin from /dev/null, stdout appended to `output` and stderr to
    /// `errors` (or to `output` too), default signal handling, and no descriptors inherited beyond those three.
    /// `environment` adds to (or, with a nil value, removes from) the test process's environment.
    /// `standardInput`, when given, is a descriptor of the test's (the read end of a pipe) that becomes the child's
    /// standard input instead of /dev/null.
    public init(
        executable: String, arguments: [String], output: String, errors: String? = nil,
        environment: [String: String?] = [:], standardInput: Int32? = nil
    ) throws {
        _ = Self.brokenPipesAreErrors
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let standardInput {
            posix_spawn_file_actions_adddup2(&actions, standardInput, 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        if let errors {
            posix_spawn_file_actions_addopen(&actions, 2, errors, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        } else {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        // Other tests in this process may hold descriptors without O_CLOEXEC (pipes whose EOF they wait
        // for); swtpm must not keep them open. The call is glibc's, hidden behind _GNU_SOURCE.
        guard let closeFrom = Self.addCloseFrom, closeFrom(&actions, 3) == 0 else {
            throw TestSupportError("posix_spawn_file_actions_addclosefrom_np (glibc 2.34+) is unavailable")
        }

        // The test runner may block or ignore signals; the child must still die on SIGTERM.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGPIPE, SIGHUP] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        var variables = ProcessInfo.processInfo.environment
        for (name, value) in environment { variables[name] = value }
        let envp: [UnsafeMutablePointer<CChar>?] = variables.map { strdup("\($0)=\($1)") } + [nil]
        defer { for variable in envp { free(variable) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard result == 0 else {
            throw TestSupportError("posix_spawn \(executable) failed: \(String(cString: strerror(result)))")
        }
        self.pid = pid
    }

    deinit {
        terminate()
    }

    /// A test that feeds a child through a pipe must see EPIPE when the child is gone, not die of SIGPIPE with
    /// every other test in the process. Children get the default disposition back (see the spawn attributes).
    private static let brokenPipesAreErrors: Void = {
        signal(SIGPIPE, SIG_IGN)
    }()

    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    private static let addCloseFrom: AddCloseFrom? = {
        // RTLD_DEFAULT, which Swift does not import: search every loaded object.
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: AddCloseFrom.self)
    }()

    /// The exit status if the child has exited (reaping it), `nil` while it runs.
    public func exited() -> Int32? {
        if let exitStatus { return exitStatus }
        var status: Int32 = 0
        var result: pid_t
        repeat { result = waitpid(pid, &status, WNOHANG) } while result == -1 && errno == EINTR
        guard result == pid || result == -1 else { return nil }
        exitStatus = status
        return status
    }

    /// Waits up to `timeout` seconds for the child to exit by itself; its status, or `nil` if it is
    /// still running, in which case it is terminated.
    public func waitForExit(timeout: Double) -> Int32? {
        for _ in 0..<Int(timeout / 0.02) {
            if let status = exited() { return status }
            usleep(20_000)
        }
        terminate()
        return nil
    }

    /// Sends `signal` to the child, if it still runs.
    public func send(_ signal: Int32) {
        if exited() == nil { kill(pid, signal) }
    }

    /// Sends SIGTERM, waits up to `grace` seconds, then SIGKILL and waits for the end; idempotent.
    public func terminate(grace: Double = 5) {
        guard exited() == nil else { return }
        kill(pid, SIGTERM)
        let steps = Int(grace / 0.02)
        for _ in 0..<steps {
            if exited() != nil { return }
            usleep(20_000)
        }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        var result: pid_t
        repeat { result = waitpid(pid, &status, 0) } while result == -1 && errno == EINTR
        exitStatus = status
    }
}

/// A failure of the test machinery itself (not of the code under test).
public struct TestSupportError: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// Decodes a wait status: the exit code of a normal exit, or 128 + the signal of a killed process, as shells do.
public func exitCode(fromWaitStatus status: Int32) -> Int32 {
    let signal = status & 0x7f
    return signal == 0 ? (status >> 8) & 0xff : 128 + signal
}
