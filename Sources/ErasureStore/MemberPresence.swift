import DurableFiles
import StoreFormat
import StreamStore
import SystemPackage

/// A member the store cannot count on at this moment, and why: left out of the assembly, its label gone (an
/// unmounted disk, a directory moved away), damaged, or naming another array or position, or its directory
/// unreadable.
///
/// What such a member holds is unknown, not lost: it may come back with every shard and journal copy it had. So
/// while any member is absent recovery, scrub and repair delete, truncate and rewrite nothing (see
/// ``ErasureCodedStore/requireEveryMemberPresent(before:)``), and recovery counts the member's shards as possibly
/// intact. Appends go on without at most m − 1 absent members (``ErasureCodedStore/requireWriteQuorum(before:)``),
/// which are then recorded as having missed writes (``MissedWrites``).
struct AbsentMember: Hashable, Sendable, CustomStringConvertible {
    var index: Int
    var root: FilePath?
    var reason: String
    /// Whether the member failed with an I/O error (rather than being missing, unlabelled or another's): a dying
    /// disk, reported as such.
    var failed = false

    var description: String {
        "member \(index)" + (root.map { " at \($0)" } ?? "") + " " + reason
    }
}

extension ErasureCodedStore {
    /// Every member that is not, right now, present, labelled as itself in this array and readable. Read afresh at
    /// each call: a disk can be unmounted, moved or swapped while the store is open. While any is absent, the
    /// candidate directories are looked at again (at most every 100 ms, see ``MemberDirectories``), so a member that
    /// came back under a new name, or its adopted replacement, is present at once. (Recovery also counts a member
    /// whose directory of the stream cannot be listed, see ``StreamRecovery``.)
    func absentMembers(forcingRescan force: Bool = false) -> [AbsentMember] {
        let absent = absentMembers(in: members)
        guard !absent.isEmpty,
            directories.rescan(absent: Set(absent.map(\.index)), arrayID: arrayID, geometry: geometry, force: force)
        else { return absent }
        return absentMembers(in: members)
    }

    private func absentMembers(in members: [Int: FilePath]) -> [AbsentMember] {
        (0..<geometry.memberCount).compactMap { index in
            guard let root = members[index] else {
                return AbsentMember(index: index, root: nil, reason: "is missing from the array")
            }
            let layout = MemberLayout(root: root)
            let found = { (reason: String) in AbsentMember(index: index, root: root, reason: reason) }
            let identity: MemberIdentity
            do {
                // Read within the label's limit: a label file made huge (sparse) must not be allocated whole.
                var label = [UInt8](repeating: 0, count: MemberFile.labelLimit + 1)
                let count = try label.withUnsafeMutableBytes { try FileSystemCalls.read(layout.identity, into: $0) }
                guard count <= MemberFile.labelLimit else { return found("has a label longer than any label") }
                identity = try MemberIdentity(decoding: Array(label[..<count]))
            } catch let error as Errno where error == .noSuchFileOrDirectory || error == .notDirectory {
                return found("lost its label: is its disk unmounted?")
            } catch let error as Errno {
                reportMemberError(index, path: layout.identity, error, "read label")
                var failing = found("has a label that cannot be read (\(error))")
                failing.failed = true
                return failing
            } catch {
                return found("has a damaged label (\(error))")
            }
            guard identity.arrayID == arrayID else { return found("is labelled as a member of another array") }
            guard identity.index == index else { return found("is labelled as member \(identity.index)") }
            do {
                _ = try FileSystemCalls.entries(of: root)
            } catch {
                reportMemberError(index, path: root, error, "list")
                var failing = found("cannot be read (\(error))")
                failing.failed = true
                return failing
            }
            return nil
        }
    }

    /// The most members that may be absent while appends go on: m − 1, so that every segment written meanwhile has
    /// at least k + 1 shards and every journal record at least two copies, and survives one more loss.
    var absentWriteLimit: Int { geometry.parityShards - 1 }

    /// Returns the members absent now when appends may go on without them (at most ``absentWriteLimit``), having
    /// recorded on the present members that they miss writes (``recordMissedWrites(_:)``); throws the refusal,
    /// naming them, otherwise. Called before a segment's shards and a journal's copies are created.
    func requireWriteQuorum(before what: String) throws(StreamStorageError) -> Set<Int> {
        let absent = absentMembers()
        guard !absent.isEmpty else { return [] }
        guard absent.count <= absentWriteLimit else {
            throw Self.refusal(what, absent: absent, limit: absentWriteLimit)
        }
        try recordMissedWrites(absent.map(\.index))
        return Set(absent.map(\.index))
    }

    /// A write, create or flush on `member` failed with `error`. Returns (and the caller leaves that member's copy
    /// out of the write, which is acknowledged on the others) when the member has vanished — the failure is one a
    /// vanished member gives (ENOENT, ENOTDIR, EIO, ESHUTDOWN…, see ``StreamStorageError/isVanishing``) and it is
    /// absent now: its disk unmounted or pulled, its filesystem shut down — and appends may go on without it; the
    /// present members then record that it missed writes before anything is acknowledged. Throws `error` when the
    /// member is still present (a full or failing disk that is still mounted fails the append, as before), and the
    /// refusal when too many are absent.
    func dropVanished(_ member: Int, after error: StreamStorageError, what: String) throws(StreamStorageError) {
        guard error.isVanishing else { throw error }
        let absent = absentMembers()
        guard absent.contains(where: { $0.index == member }) else { throw error }
        guard absent.count <= absentWriteLimit else {
            throw Self.refusal(what, absent: absent, limit: absentWriteLimit, detail: " (\(error))")
        }
        try recordMissedWrites(absent.map(\.index))
    }

    /// Throws, naming every absent member, unless all members are present: called before anything that deletes,
    /// truncates or rewrites a shard, a journal or a segment. A member that cannot be seen may hold exactly what
    /// the others lack, so its absence is never evidence that something is torn or stale.
    func requireEveryMemberPresent(before what: String) throws(StreamStorageError) {
        let absent = absentMembers()
        guard absent.isEmpty else { throw Self.refusal(what, absent: absent) }
    }

    /// The error that refuses `what` while `absent` are absent; with `limit`, the number of absent members that
    /// appends go on without, which they are more than.
    static func refusal(
        _ what: String, absent: [AbsentMember], limit: Int? = nil, detail: String = ""
    ) -> StreamStorageError {
        let count =
            absent.count == 1
            ? "a member is" : "\(absent.count) members are"
        let rule = limit.map { " (appends go on with at most \($0) absent)" } ?? ""
        return StreamStorageError(
            kind: absent.contains(where: \.failed) ? .io : .unavailable,
            message: "refusing \(what) while \(count) absent\(rule): "
                + absent.map(\.description).joined(separator: "; ") + detail
                + ". Nothing was deleted or rewritten; put the members back (or adopt and rebuild replacements) "
                + "and try again")
    }
}
