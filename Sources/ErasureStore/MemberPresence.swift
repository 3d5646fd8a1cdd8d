import DurableFiles
import StoreFormat
import StreamStore
import SystemPackage

/// A member the store cannot count on at this moment, and why: left out of the assembly, its label gone (an
/// unmounted disk, a directory moved away), damaged, or naming another array or position, or its directory
/// unreadable.
///
/// What such a member holds is unknown, not lost: it may come back with every shard and journal copy it had. So
/// while any member is absent the store deletes, truncates and rewrites nothing (see ``ErasureCodedStore/
/// requireEveryMemberPresent(before:)``), and recovery counts the member's shards as possibly intact.
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
    /// each call: a disk can be unmounted, moved or swapped while the store is open. (Recovery also counts a member
    /// whose directory of the stream cannot be listed, see ``StreamRecovery``.)
    func absentMembers() -> [AbsentMember] {
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
                var failing = found("cannot be read (\(error))")
                failing.failed = true
                return failing
            }
            return nil
        }
    }

    /// Throws, naming every absent member, unless all members are present: called before anything that deletes,
    /// truncates or rewrites a shard, a journal or a segment. A member that cannot be seen may hold exactly what
    /// the others lack, so its absence is never evidence that something is torn or stale.
    func requireEveryMemberPresent(before what: String) throws(StreamStorageError) {
        let absent = absentMembers()
        guard absent.isEmpty else { throw Self.refusal(what, absent: absent) }
    }

    static func refusal(_ what: String, absent: [AbsentMember], detail: String = "") -> StreamStorageError {
        StreamStorageError(
            kind: absent.contains(where: \.failed) ? .io : .unavailable,
            message: "refusing \(what) while \(absent.count == 1 ? "a member is" : "members are") absent: "
                + absent.map(\.description).joined(separator: "; ") + detail
                + ". Nothing was deleted or rewritten; put the members back (or adopt and rebuild replacements) "
                + "and try again")
    }
}
