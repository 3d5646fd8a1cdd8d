import SystemPackage

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Runs the system's own tools (losetup, udevadm) to completion: the rig attaches disks the way a human would.
enum Tool {
    /// Finds `name` in PATH or in the sbin directories, which a non-login root shell may lack.
    static func locate(_ name: String) -> String? {
        var directories: [String] = []
        if let path = getenv("PATH") {
            directories = String(cString: path).split(separator: ":").map(String.init)
        }
        directories += ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        return directories.map { "\($0)/\(name)" }.first { access($0, X_OK) == 0 }
    }

    /// Runs `name` with `arguments`, standard input from /dev/null; returns its standard output without the trailing
    /// newline, or throws with its standard error when it fails.
    @discardableResult
    static func run(_ name: String, _ arguments: [String]) throws(LoopRigError) -> String {
        guard let executable = locate(name) else { throw .toolMissing(name) }
        let command = ([name] + arguments).joined(separator: " ")
        let output = try makePipe(for: command)
        let errors: (read: Int32, write: Int32)
        do {
            errors = try makePipe(for: command)
        } catch {
            close(output.read)
            close(output.write)
            throw error
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, output.write, 1)
        posix_spawn_file_actions_adddup2(&actions, errors.write, 2)
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        close(output.write)
        close(errors.write)
        guard spawned == 0 else {
            close(output.read)
            close(errors.read)
            throw .systemCall("posix_spawn", executable, Errno(rawValue: spawned))
        }
        let (standardOutput, standardError) = drain(output.read, errors.read)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        // A normal exit keeps the low seven bits zero and the exit code in the next byte.
        let exitCode = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        guard exitCode == 0 else {
            throw .toolFailed(command, status: exitCode, output: trimmed(standardError + standardOutput))
        }
        return trimmed(standardOutput)
    }

    private static func makePipe(for command: String) throws(LoopRigError) -> (read: Int32, write: Int32) {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { throw .systemCall("pipe", "for \(command)", Errno(rawValue: errno)) }
        // Close-on-exec, so that a tool another thread starts meanwhile does not hold our pipe open; the child's own
        // copies are made by dup2, which clears the flag.
        _ = fcntl(ends[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(ends[1], F_SETFD, FD_CLOEXEC)
        return (ends[0], ends[1])
    }

    /// Reads both pipes to their end at once, so that a tool writing much to one never blocks on the other; closes
    /// them.
    private static func drain(_ first: Int32, _ second: Int32) -> (String, String) {
        var watched = [
            pollfd(fd: first, events: Int16(POLLIN), revents: 0), pollfd(fd: second, events: Int16(POLLIN), revents: 0),
        ]
        var collected: [[UInt8]] = [[], []]
        var buffer = [UInt8](repeating: 0, count: 4096)
        while watched.contains(where: { $0.fd >= 0 }) {
            if poll(&watched, nfds_t(watched.count), -1) < 0 {
                if errno == EINTR { continue }
                break
            }
            for index in watched.indices where watched[index].fd >= 0 && watched[index].revents != 0 {
                let descriptor = watched[index].fd
                let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if count > 0 {
                    collected[index] += buffer[..<count]
                } else if count == 0 || errno != EINTR {
                    close(descriptor)
                    watched[index].fd = -1
                }
            }
        }
        for entry in watched where entry.fd >= 0 { close(entry.fd) }
        return (String(decoding: collected[0], as: UTF8.self), String(decoding: collected[1], as: UTF8.self))
    }

    private static func trimmed(_ text: String) -> String {
        var text = Substring(text)
        while let last = text.last, last.isWhitespace { text.removeLast() }
        while let first = text.first, first.isWhitespace { text.removeFirst() }
        return String(text)
    }
}
