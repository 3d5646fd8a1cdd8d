import DiskLifecycle
import Foundation
import StoreFormat

/// Finds out what a disk holds before anything is decided about it: nothing (blank), this or another array's
/// member label, or data of its own. Reads only: blkid's low-level probe, and for the appliance's own file system a
/// read-only mount outside the members root (so the store never sees a disk before it is decided).
struct DiskInspector: Sendable {
    /// Where disks are mounted read-only for a look.
    let inspectionRoot: String
    let formatter: DiskFormatter

    func content(of device: String, identity: DiskIdentity) -> DiskContent {
        let probe: ExternalTool.Output
        do {
            probe = try ExternalTool("blkid", package: "util-linux").run(["-p", "-o", "export", device])
        } catch {
            return .unreadable("\(error)")
        }
        // blkid -p: 2 is "nothing found" (no file system, partition table or RAID signature).
        if probe.status == 2 { return .blank }
        guard probe.status == 0 else {
            let detail = probe.standardError.trimmingCharacters(in: .whitespacesAndNewlines)
            return probe.status == 8
                ? .occupied("several signatures (blkid: ambivalent)")
                : .unreadable("blkid status \(probe.status) \(detail)")
        }
        var found: [String: String] = [:]
        for line in probe.standardOutput.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            found[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        if let table = found["PTTYPE"] { return .occupied("a \(table) partition table") }
        guard found["TYPE"] == "xfs", found["LABEL"] == DiskFormatter.label else {
            return .occupied("a file system: \(found["TYPE"] ?? "unknown")" + (found["LABEL"].map { " '\($0)'" } ?? ""))
        }
        return memberContent(of: device, identity: identity)
    }

    /// Reads the member label of an appliance-made XFS from a read-only mount: first one that writes nothing (the
    /// disk may be another appliance's, left untouched), then, only where the label is not seen that way, one that
    /// replays the file system's log — a pulled member's label may be in its log alone, and its root would look
    /// empty, as a blank disk's does. The replay writes the log, as any mount of that file system would.
    private func memberContent(of device: String, identity: DiskIdentity) -> DiskContent {
        // Mounted already (the service restarted, the machine did not): its label is read where it is.
        if let mounted = DiskFormatter.mountPoint(ofDevice: device) {
            return label(at: mounted).content
        }
        let untouched = look(at: device, identity: identity, replayingLog: false)
        if case .found = untouched.label { return untouched.content }
        if case .failed = untouched.label { return untouched.content }
        return look(at: device, identity: identity, replayingLog: true).content
    }

    private enum Label {
        case found, absent, failed
    }

    private func look(
        at device: String, identity: DiskIdentity, replayingLog: Bool
    ) -> (label: Label, content: DiskContent) {
        let mountPoint = "\(inspectionRoot)/\(identity.directoryName)"
        do {
            try formatter.mount(device, at: mountPoint, readOnly: true, replayingLog: replayingLog)
        } catch {
            return (.failed, .unreadable("its file system does not mount: \(error)"))
        }
        defer {
            try? formatter.unmount(mountPoint)
            try? FileManager.default.removeItem(atPath: mountPoint)
        }
        return label(at: mountPoint)
    }

    /// What the member label in the file system mounted at `mountPoint` says.
    private func label(at mountPoint: String) -> (label: Label, content: DiskContent) {
        let labelPath = "\(mountPoint)/\(MemberIdentity.fileName)"
        guard FileManager.default.fileExists(atPath: labelPath) else {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: mountPoint)) ?? ["?"]
            return (
                .absent,
                entries.isEmpty
                    ? .blank : .occupied("an appliance file system without a member label (\(entries.count) entries)")
            )
        }
        guard let handle = FileHandle(forReadingAtPath: labelPath) else {
            return (.failed, .unreadable("its member label cannot be opened"))
        }
        defer { try? handle.close() }
        guard let bytes = try? handle.read(upToCount: 4097), bytes.count <= 4096 else {
            return (.failed, .unreadable("its member label cannot be read"))
        }
        guard let member = try? MemberIdentity(decoding: Array(bytes)) else {
            return (.found, .occupied("a damaged member label"))
        }
        return (.found, .member(arrayID: Self.hex(member.arrayID), index: member.index))
    }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}
