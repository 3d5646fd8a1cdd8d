import DiskLifecycle
import Foundation

/// Formats, mounts and unmounts member disks with the real tools: mkfs.xfs, mount, umount.
struct DiskFormatter: Sendable {
    /// Every file system the appliance makes carries this label (XFS allows 12 bytes): an empty one is the
    /// appliance's own, left by an adoption that did not finish, and counts as blank.
    static let label = "saatkond"

    let membersRoot: String
    /// uid:gid that owns a new member's root directory (the ingest user), set by mkfs.xfs's protofile, so that no
    /// chown (and no CAP_CHOWN) is needed.
    let owner: (uid: UInt32, gid: UInt32)?

    /// Where a member disk is mounted: its identity names the directory.
    func mountPoint(of identity: DiskIdentity) -> String {
        "\(membersRoot)/\(identity.directoryName)"
    }

    /// Makes a new XFS on `device`. Without `overwrite`, mkfs.xfs itself refuses a device with any signature on it
    /// (it was blank when inspected; something written since is not wiped).
    func format(_ device: String, overwrite: Bool) throws {
        let mkfs = try ExternalTool("mkfs.xfs", package: "xfsprogs")
        var arguments = ["-q", "-L", Self.label]
        if overwrite { arguments.append("-f") }
        var proto: String?
        if let owner {
            // mkfs.xfs -p: a boot-image line and a numbers line (both ignored by XFS), then the root directory.
            let file = NSTemporaryDirectory() + "saatkond-proto-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            try "/dev/null\n0 0\nd--750 \(owner.uid) \(owner.gid)\n$\n".write(
                toFile: file, atomically: true, encoding: .utf8)
            arguments += ["-p", file]
            proto = file
        }
        defer { if let proto { try? FileManager.default.removeItem(atPath: proto) } }
        try mkfs.check(arguments + [device])
    }

    /// Mounts `device` at the identity's mount point. `nouuid`: a pulled disk's old mount may linger (lazily
    /// unmounted while files are open on it) when the same disk comes back under a new device node.
    func mount(_ device: String, at mountPoint: String, readOnly: Bool = false, replayingLog: Bool = true) throws {
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        if Self.isMountPoint(mountPoint) { return }
        // Read-only, XFS still writes to the device (its log) unless told `norecovery`, which also leaves whatever is
        // only in the log unseen.
        let options =
            readOnly ? (replayingLog ? "ro,nouuid" : "ro,norecovery,nouuid") : "noatime,nouuid"
        try ExternalTool("mount", package: "mount").check(["-t", "xfs", "-o", options, device, mountPoint])
    }

    /// Detaches the file system at once (a lazy unmount): files still open on it keep working or failing as the
    /// device lets them, and the directory is empty for every new lookup, so the store sees the member absent.
    func unmount(_ mountPoint: String) throws {
        guard Self.isMountPoint(mountPoint) else { return }
        try ExternalTool("umount", package: "mount").check(["--lazy", mountPoint])
    }

    /// Where `device` is mounted now, if anywhere (the first mount in /proc/self/mountinfo whose source it is): a
    /// restarted service finds its members still mounted.
    static func mountPoint(ofDevice device: String) -> String? {
        guard let table = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return nil }
        for line in table.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard let separator = fields.firstIndex(of: "-"), fields.count > separator + 2, fields.count > 4 else {
                continue
            }
            if fields[separator + 2] == device {
                return String(fields[4]).replacingOccurrences(of: "\\040", with: " ")
            }
        }
        return nil
    }

    /// Whether `path` is a mount point now, from /proc/self/mountinfo (field 5).
    static func isMountPoint(_ path: String) -> Bool {
        guard let table = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return false }
        let escaped = path.replacingOccurrences(of: " ", with: "\\040")
        return table.split(separator: "\n").contains { line in
            let fields = line.split(separator: " ")
            return fields.count > 4 && fields[4] == escaped
        }
    }
}
