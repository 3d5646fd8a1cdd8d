import Foundation

/// A user that a test runs a child process as, the way a systemd unit's `User=`, `Group=`, `CapabilityBoundingSet=`,
/// `NoNewPrivileges=`, `UMask=0077` and `LimitCORE=0` run a service: another uid and gid, no supplementary groups,
/// empty bounding and inheritable capability sets. CI runs as root, and root would hide every permission failure;
/// these users have no entry in /etc/passwd, so they own nothing but what a test gives them.
public struct UnprivilegedUser: Sendable, Hashable {
    /// The user id.
    public let id: UInt32
    /// The group id: `id` itself, unless the user is an account of the system's (Debian's `postgres`).
    public let group: UInt32

    /// A user whose uid and gid are both `id`.
    public init(id: UInt32) {
        precondition(id != 0)
        self.id = id
        group = id
    }

    /// A user with uid `id` whose primary group is `group` (several users of one group: a service's socket group).
    public init(id: UInt32, group: UInt32) {
        precondition(id != 0 && group != 0)
        self.id = id
        self.group = group
    }

    /// A user with an entry in /etc/passwd, such as `postgres` (PostgreSQL refuses to run as a uid without one),
    /// with the uid and primary gid `id(1)` gives; nil when there is no such user.
    public init?(account name: String) {
        guard let entry = getpwnam(name), entry.pointee.pw_uid != 0 else { return nil }
        id = entry.pointee.pw_uid
        group = entry.pointee.pw_gid
    }

    /// Whether this process can switch to another user: it is root and util-linux's setpriv is installed.
    public static var canSwitch: Bool { getuid() == 0 && setpriv != nil }

    /// Why a test that needs to switch users skips, or nil when it can.
    public static var whyNot: String? {
        if getuid() != 0 { return "running as uid \(getuid()), not root: cannot run a child as another user" }
        if setpriv == nil { return "setpriv (util-linux) is not installed" }
        return nil
    }

    private static let setpriv: String? = ["/usr/bin/setpriv", "/bin/setpriv"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    /// The executable and arguments that run `executable` with `arguments` as this user, with the unit's umask
    /// (0077 for most; ingest's is 0027, its members group-readable for the reader) and core limit (set by a shell
    /// before it hands over to setpriv).
    public func command(
        _ executable: String, _ arguments: [String], umask: String = "0077"
    ) -> (executable: String, arguments: [String]) {
        guard let setpriv = Self.setpriv else { fatalError("setpriv is not installed; check canSwitch first") }
        return (
            "/bin/sh",
            [
                "-c", "umask \(umask) && ulimit -c 0 && exec \"$0\" \"$@\"", setpriv, "--reuid=\(id)",
                "--regid=\(group)",
                "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--", executable,
            ] + arguments
        )
    }

    /// Gives `path` (recursively) to this user.
    public func own(_ path: String) throws {
        _ = try Command.run("chown", ["-R", "\(id):\(group)", path])
    }

    /// Copies `file` to `directory` as this user's own, readable by it alone; returns the copy's path.
    public func copy(_ file: String, into directory: String) throws -> String {
        let target = "\(directory)/\(URL(fileURLWithPath: file).lastPathComponent)"
        _ = try Command.run("install", ["-o", "\(id)", "-g", "\(group)", "-m", "0600", file, target])
        return target
    }

    /// The uid, the effective capabilities and the no-new-privileges flag of a running process, from
    /// /proc/PID/status: what a test checks to know its child really runs unprivileged.
    /// What /proc says of a process's identity and privileges.
    public struct Credentials: Sendable {
        /// Real, effective, saved and filesystem user ids.
        public var uids: [UInt32]
        /// Real, effective, saved and filesystem group ids.
        public var gids: [UInt32]
        /// Supplementary groups.
        public var groups: [UInt32]
        public var effectiveCapabilities: UInt64
        public var inheritableCapabilities: UInt64
        public var boundingCapabilities: UInt64
        public var noNewPrivileges: Bool
    }

    public static func credentials(of pid: pid_t) throws -> Credentials {
        // Read to the end: procfs files have no size, and a read sized by it may stop early.
        let status = String(
            decoding: try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/\(pid)/status")).readToEnd() ?? Data(),
            as: UTF8.self)
        func field(_ name: String) -> String? {
            status.split(separator: "\n").first { $0.hasPrefix(name + ":") }.map {
                $0.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces)
            }
        }
        func ids(_ name: String) -> [UInt32]? {
            field(name).map { $0.split(whereSeparator: { $0 == "\t" || $0 == " " }).compactMap { UInt32($0) } }
        }
        func mask(_ name: String) -> UInt64? { field(name).flatMap { UInt64($0, radix: 16) } }
        guard let uids = ids("Uid"), uids.count == 4, let gids = ids("Gid"), gids.count == 4,
            let groups = ids("Groups"), let effective = mask("CapEff"), let inheritable = mask("CapInh"),
            let bounding = mask("CapBnd"), let noNewPrivileges = field("NoNewPrivs")
        else {
            throw TestSupportError("cannot read the credentials of process \(pid)")
        }
        return Credentials(
            uids: uids, gids: gids, groups: groups, effectiveCapabilities: effective,
            inheritableCapabilities: inheritable, boundingCapabilities: bounding,
            noNewPrivileges: noNewPrivileges == "1")
    }
}

extension UnprivilegedUser {
    /// Sends `request` and a newline to the Unix socket at `socket` as this user (socat under setpriv, so the
    /// server sees this uid in SO_PEERCRED) and returns what came back, raw bytes decoded leniently (a reply may carry
    /// a secret after its line), with socat's wait status. Files go to `scratch`.
    public func ask(_ request: String, socket: String, scratch: String) throws -> (answer: String, status: Int32?) {
        guard let socat = Command.locate("socat") else { throw TestSupportError("socat is not installed") }
        let input = "\(scratch)/request-\(UUID().uuidString)"
        let output = "\(scratch)/answer-\(UUID().uuidString)"
        try (request + "\n").write(toFile: input, atomically: true, encoding: .utf8)
        let descriptor = open(input, O_RDONLY)
        defer { close(descriptor) }
        let (executable, arguments) = command(socat, ["-t", "5", "-", "UNIX-CONNECT:\(socket)"])
        let child = try ChildProcess(
            executable: executable, arguments: arguments, output: output, standardInput: descriptor)
        let status = child.waitForExit(timeout: 20)
        let bytes = FileManager.default.contents(atPath: output) ?? Data()
        return (String(decoding: bytes, as: UTF8.self), status)
    }
}
