import DurableFiles
import StoreFormat
import StreamStore
import Synchronization
import SystemPackage

/// Which directory holds each position of the array, as of now: the store's members change while it runs.
///
/// The candidates are either directories given at opening (the development appliance's fixed `disk-NN`), or every
/// subdirectory of a members root (`/srv/saatkond/members/<disk identity>`, one mount per disk, made by
/// `saatkond disks`). While a position is absent the candidates are looked at again, at most every
/// ``rescanInterval``, so that a directory labelled as that position of this array — the same disk mounted again
/// under a new name, or a replacement adopted with ``ErasureCodedStore/adoptReplacement(_:as:)`` — joins at once,
/// without reopening the store. A present member is never replaced: a second directory with its label is a duplicate
/// and is left alone.
///
/// Reading the members is one lock and a reference count: the appenders' hot path looks at them for every file.
final class MemberDirectories: Sendable {
    enum Candidates: Sendable {
        case fixed([FilePath])
        case root(FilePath)
    }

    /// The shortest time between two looks at the candidates: the hot path reads labels, not directories.
    static let rescanInterval = Duration.milliseconds(100)

    private struct State {
        var members: [Int: FilePath]
        var lastScan: ContinuousClock.Instant
    }

    let candidates: Candidates
    private let state: Mutex<State>

    init(candidates: Candidates, members: [Int: FilePath]) {
        self.candidates = candidates
        state = Mutex(State(members: members, lastScan: .now))
    }

    /// The members now.
    var snapshot: [Int: FilePath] { state.withLock { $0.members } }

    /// The candidate directories: those given, or the subdirectories of the root (names starting with a dot, such
    /// as a temporary mount point, are not candidates).
    static func directories(_ candidates: Candidates) throws(StreamStorageError) -> [FilePath] {
        switch candidates {
        case .fixed(let directories):
            return directories
        case .root(let root):
            do {
                return try FileSystemCalls.entries(of: root).filter { !$0.hasPrefix(".") }.sorted().map {
                    root.appending($0)
                }
            } catch {
                throw .io("listing the members root", path: root.string, error: error)
            }
        }
    }

    /// Looks at the candidates again, unless that was done less than ``rescanInterval`` ago (and not `force`d), and
    /// puts each directory labelled as one of the `absent` positions of this array (same identity and geometry) in
    /// that position's place. Returns whether any member changed.
    func rescan(absent: Set<Int>, arrayID: [UInt8], geometry: ArrayGeometry, force: Bool = false) -> Bool {
        guard !absent.isEmpty else { return false }
        let now = ContinuousClock.now
        let (due, assigned) = state.withLock { state -> (Bool, Set<FilePath>) in
            guard force || state.lastScan.duration(to: now) >= Self.rescanInterval else { return (false, []) }
            state.lastScan = now
            return (true, Set(state.members.values))
        }
        guard due, let directories = try? Self.directories(candidates) else { return false }
        var found: [Int: FilePath] = [:]
        for directory in directories where !assigned.contains(directory) {
            // A label that cannot be read or does not decode makes no member; a failing disk is reported where it
            // is used, and a blank one is not this array's.
            guard
                let bytes = try? MemberFile.readIfPresent(
                    MemberLayout(root: directory).identity, limit: MemberFile.labelLimit, what: "member label"),
                let identity = try? MemberIdentity(decoding: bytes), identity.arrayID == arrayID,
                identity.geometry == geometry, absent.contains(identity.index), found[identity.index] == nil
            else { continue }
            found[identity.index] = directory
        }
        guard !found.isEmpty else { return false }
        state.withLock { state in
            for (index, directory) in found { state.members[index] = directory }
        }
        return true
    }

    /// Puts `directory`, just labelled as position `index` by this store (a replacement it adopted), in that
    /// position's place: the caller found the position absent.
    func assign(_ directory: FilePath, as index: Int) {
        state.withLock { $0.members[index] = directory }
    }
}
