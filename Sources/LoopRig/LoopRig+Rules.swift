import DurableFiles
import SystemPackage

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

extension LoopRig {
    /// The rig's udev rules, in `hardware/test-rig/`.
    public static let rulesFileName = "61-saatkond-test-rig.rules"

    /// Where ``installRules(from:)`` puts them: udevd's runtime rules directory, gone at reboot.
    public static let rulesDirectory: FilePath = "/run/udev/rules.d"

    /// Copies the rig's rules from `hardware` (the repository's `hardware/` directory) to /run/udev/rules.d and tells a
    /// running udevd to reload its rules (a udevd started later reads them anyway).
    ///
    /// - Throws: ``LoopRigError`` when the rules cannot be read or written, or a running udevd refuses to reload.
    public static func installRules(from hardware: FilePath) throws {
        let source = hardware.appending("test-rig").appending(rulesFileName)
        let target = rulesDirectory.appending(rulesFileName)
        let rules: [UInt8]
        do {
            rules = try FileSystemCalls.readAll(source)
            try createReadableDirectories(rulesDirectory)
        } catch {
            throw LoopRigError.systemCall("read", "\(source) to install it in \(rulesDirectory)", error)
        }
        do {
            try rules.withUnsafeBytes { bytes in
                try FileSystemCalls.writeAtomically(
                    bytes, to: target, permissions: [.ownerReadWrite, .groupRead, .otherRead])
            }
        } catch {
            throw LoopRigError.systemCall("write", target.string, error as? Errno ?? .ioError)
        }
        try reloadRules()
    }

    /// Removes the rig's rules from /run/udev/rules.d (and the directory, if nothing else is in it) and tells a running
    /// udevd. Never throws: it is cleanup, and a udevd that is gone reads no rules anyway.
    public static func removeRules() {
        try? FileSystemCalls.remove(rulesDirectory.appending(rulesFileName))
        _ = rmdir(rulesDirectory.string)
        try? reloadRules()
    }

    /// `udevadm control --reload` when a udevd answers; nothing when none runs.
    private static func reloadRules() throws {
        guard FileSystemCalls.exists("/run/udev/control") else { return }
        do {
            try Tool.run("udevadm", ["control", "--reload"])
        } catch {
            // A control socket left behind by a udevd that has died does not answer: there is nothing to reload.
            if (try? Tool.run("udevadm", ["control", "--ping", "--timeout=2"])) == nil { return }
            throw error
        }
    }

    /// Creates `path` and its missing parents with mode 0755: /run/udev must stay readable to everyone, since
    /// unprivileged programs read the udev database in it.
    private static func createReadableDirectories(_ path: FilePath) throws(Errno) {
        var missing: [FilePath] = []
        var current = path
        while !current.components.isEmpty, !FileSystemCalls.exists(current) {
            missing.append(current)
            current.removeLastComponent()
        }
        for directory in missing.reversed() {
            if mkdir(directory.string, 0o755) != 0 && errno != EEXIST { throw Errno(rawValue: errno) }
        }
    }
}
