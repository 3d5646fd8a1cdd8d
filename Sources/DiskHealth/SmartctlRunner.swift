import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Runs `smartctl --json=c -a DEVICE` (with `-d TYPE` where the caller knows the device needs one) as a child process,
/// without a shell, and summarises what it prints. The one part of this module that does I/O.
public struct SmartctlRunner: Sendable {
    /// The program: a path, or a name looked up in PATH and then in /usr/sbin and /sbin (where Debian installs it).
    public let executable: String
    /// How long smartctl may take before it is killed: a disk that hangs an ATA command can hold it for minutes.
    public let timeout: Duration

    /// A runner of `executable` that gives up after `timeout`.
    public init(executable: String = "smartctl", timeout: Duration = .seconds(60)) {
        self.executable = executable
        self.timeout = timeout
    }

    /// smartctl's arguments for `device`: compact JSON, all SMART information, and `-d type` when one is given.
    public static func arguments(device: String, type: String? = nil) -> [String] {
        ["--json=c", "-a"] + (type.map { ["-d", $0] } ?? []) + [device]
    }

    /// Runs smartctl on `device` (a path such as `/dev/sda`; `type` a smartctl device type such as `sat` or
    /// `megaraid,3`, or nil to let smartctl detect it) and summarises its output with its exit status. Throws when
    /// smartctl cannot be started, is killed or times out, or prints something that is not its JSON.
    public func summary(device: String, type: String? = nil) throws -> SmartSummary {
        guard device.hasPrefix("/"), !device.contains("\0") else {
            throw SmartctlRunnerError("the device \(device.debugDescription) is not an absolute path")
        }
        if let type {
            guard !type.isEmpty, type.allSatisfy({ $0.isLetter || $0.isNumber || ",+_".contains($0) }) else {
                throw SmartctlRunnerError("the device type \(type.debugDescription) is not one of smartctl's")
            }
        }
        guard let program = Self.locate(executable) else {
            throw SmartctlRunnerError("\(executable) is not installed (Debian's smartmontools has it)")
        }
        let (output, status) = try run(program, Self.arguments(device: device, type: type))
        return try SmartSummary(json: output, exitStatus: status)
    }

    /// Runs `program` with stdout to a pipe, reads it until it closes or the deadline passes (then kills the child,
    /// which no one else can have reaped: only this function waits for it), and returns what it printed and its
    /// exit status.
    private func run(_ program: String, _ arguments: [String]) throws -> ([UInt8], Int32) {
        var pipe: [Int32] = [-1, -1]
        guard Glibc.pipe(&pipe) == 0 else {
            throw SmartctlRunnerError("cannot make a pipe for \(program): \(String(cString: strerror(errno)))")
        }
        // Not inherited by children that other threads start (pipe2 is hidden behind _GNU_SOURCE).
        _ = fcntl(pipe[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(pipe[1], F_SETFD, FD_CLOEXEC)
        defer { close(pipe[0]) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, pipe[1], 1)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let argv: [UnsafeMutablePointer<CChar>?] = ([program] + arguments).map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        let environment: [String] = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
        defer { for variable in envp { free(variable) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, program, &actions, nil, argv, envp)
        close(pipe[1])
        guard spawned == 0 else {
            throw SmartctlRunnerError("cannot start \(program): \(String(cString: strerror(spawned)))")
        }
        let deadline = ContinuousClock.now + timeout
        var bytes: [UInt8] = []
        var timedOut = false
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let left = deadline - ContinuousClock.now
            guard left > .zero else {
                timedOut = true
                kill(pid, SIGKILL)
                break
            }
            var descriptor = pollfd(fd: pipe[0], events: Int16(POLLIN), revents: 0)
            let milliseconds = Int32(
                min(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1, 60_000))
            let ready = poll(&descriptor, 1, milliseconds)
            if ready < 0 && errno == EINTR { continue }
            if ready <= 0 { continue }
            let count = buffer.withUnsafeMutableBytes { read(pipe[0], $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            // Past the limit nothing more is kept, but the pipe is drained so that smartctl can finish.
            if bytes.count <= SmartSummary.maximumBytes { bytes.append(contentsOf: buffer[..<count]) }
        }
        var status: Int32 = 0
        while true {
            let reaped = waitpid(pid, &status, timedOut ? 0 : WNOHANG)
            if reaped == pid || (reaped == -1 && errno != EINTR) { break }
            if reaped == 0 {
                // Output closed, but smartctl has not exited yet: wait for it until the deadline, no longer.
                if ContinuousClock.now >= deadline {
                    timedOut = true
                    kill(pid, SIGKILL)
                } else {
                    usleep(10_000)
                }
            }
        }
        let signal = status & 0x7f
        guard signal == 0 else {
            throw SmartctlRunnerError(
                "\(program) \(arguments.joined(separator: " ")) was killed by signal \(signal)"
                    + (timedOut ? " after the timeout of \(timeout)" : ""))
        }
        return (bytes, (status >> 8) & 0xff)
    }

    static func locate(_ executable: String) -> String? {
        if executable.contains("/") {
            return FileManager.default.isExecutableFile(atPath: executable) ? executable : nil
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let directories = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        return directories.map { "\($0)/\(executable)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}

/// Why smartctl could not be run to the end.
public struct SmartctlRunnerError: Error, CustomStringConvertible, Sendable {
    /// What happened and what to do.
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}
