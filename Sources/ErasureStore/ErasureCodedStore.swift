import CryptoPrimitives
import DurableFiles
import StoreFormat
import StreamStore
import Synchronization
import SystemPackage

/// The appliance's storage engine: append-only streams, encrypted and erasure-coded across member disks.
///
/// An acknowledged byte (one that ``StreamAppender/makeDurable()`` returned for) survives the loss of any m
/// members and a power cut: full segments are sealed and spread as k + m shards, and the tail of a stream that does
/// not fill a segment yet is journaled on m + 1 members. Nothing on a member is plaintext, and every member carries
/// a label from which the array reassembles, in any order. The interface has no delete and no overwrite.
///
/// Members come and go while the store is open (``MemberDirectories``): appends go on while at most m − 1 are
/// absent, to the members present, and what is acknowledged then survives m − a further losses (a absent) until the
/// absent members are back and rebuilt; a member back from such an absence is distrusted until then
/// (``MissedWrites``). `docs/storage-engine.md` has the whole story.
public final class ErasureCodedStore: StreamStorage, Sendable {
    /// The array's geometry.
    public let geometry: ArrayGeometry
    /// The array's identity, written on every member.
    public let arrayID: [UInt8]
    /// What reassembly found when the store was opened: missing, duplicate, foreign and unlabelled members. Which
    /// members are absent now is ``absentMemberIndices()``.
    public let assembly: AssemblyReport
    /// Where each position of the array is, as of now (see ``MemberDirectories``).
    let directories: MemberDirectories
    /// The members now: a snapshot, which a member joining or being replaced does not change.
    var members: [Int: FilePath] { directories.snapshot }
    let keys: StorageKeys
    let codec: SegmentCodec
    let placement: Placement
    /// How many sealed segments may wait for their flush: recovery verifies at most this many at the end of a stream.
    let unflushedSegmentLimit: Int
    /// Every thread the store starts, in three lanes.
    let executor: StoreExecutor
    /// Seals and writes full segments for every appender of this store, on the executor's sealing lane.
    let writers: SegmentWriters
    /// Spare journal files on the members.
    let journalPool: JournalPool
    /// Who is told of the I/O errors met on members (``observeMemberErrors(_:)``).
    let memberErrors = MemberErrorObservers()
    /// The token of this store's record that each absent member missed writes (see ``recordMissedWrites(_:)``).
    let missedWriteTokens = Mutex<[Int: String]>([:])

    /// Labels blank directories as the members of a new array, in the order given, and returns its identity.
    /// A directory that already carries a label (of this or another array) is refused: adopting it needs an
    /// explicit decision, never a silent wipe.
    public static func create(members: [FilePath], geometry: ArrayGeometry) throws(StreamStorageError) -> [UInt8] {
        guard members.count == geometry.memberCount else {
            throw .configuration("the geometry has \(geometry.memberCount) members, \(members.count) were given")
        }
        let arrayID: [UInt8]
        do {
            arrayID = try CryptoRandom.bytes(count: 16)
        } catch {
            throw .configuration("no random bytes for the array's identity: \(error)")
        }
        for (index, root) in members.enumerated() {
            let layout = MemberLayout(root: root)
            guard !FileSystemCalls.exists(layout.identity) else {
                throw .configuration("\(root) is already labelled as a member; refusing to overwrite it")
            }
            do {
                try layout.writeLabel(MemberIdentity(arrayID: arrayID, index: index, geometry: geometry))
            } catch {
                throw .io("labelling member \(index)", path: root.string, error: error)
            }
        }
        // Spare journals from the start, so even a stream's first journals are written in place.
        let pool = JournalPool(geometry: geometry)
        for root in members {
            do {
                try pool.fill(MemberLayout(root: root), upTo: JournalPool.initialSparesPerMember)
            } catch Errno.notSupported {
                break  // No unnamed files on this filesystem: journals grow as they are written.
            } catch Errno.noSpace {
                continue  // A small member: its journals grow as they are written.
            } catch {
                throw .io("preparing spare journals on", path: root.string, error: error)
            }
        }
        return arrayID
    }

    /// Reassembles the array from member directories given in any order.
    ///
    /// The array is the one most labels name; members of other arrays are reported as foreign and never touched,
    /// a second directory with the same position as duplicate, unlabelled directories as such. A directory given
    /// here that is labelled later as an absent position (a replacement adopted by another process) joins then.
    public convenience init(
        members: [FilePath], keys: StorageKeys, unflushedSegmentLimit: Int = 16
    ) throws(StreamStorageError) {
        try self.init(candidates: .fixed(members), keys: keys, unflushedSegmentLimit: unflushedSegmentLimit)
    }

    /// Reassembles the array from the subdirectories of `memberRoot`, one per member disk (`saatkond disks` mounts
    /// each at `<memberRoot>/<disk identity>`). While a position is absent the root is looked at again, at most every
    /// 100 ms: a directory that appears there labelled as that position of this array — the same disk mounted again,
    /// or a replacement adopted with ``adoptReplacement(_:as:)`` — joins at once. Unlike ``init(members:keys:
    /// unflushedSegmentLimit:)`` it opens with more than m positions missing (one labelled member is enough: the
    /// disks may still be being mounted, or most were pulled); appends and reads then refuse, naming them.
    public convenience init(
        memberRoot: FilePath, keys: StorageKeys, unflushedSegmentLimit: Int = 16
    ) throws(StreamStorageError) {
        try self.init(candidates: .root(memberRoot), keys: keys, unflushedSegmentLimit: unflushedSegmentLimit)
    }

    private init(
        candidates: MemberDirectories.Candidates, keys: StorageKeys, unflushedSegmentLimit: Int
    ) throws(StreamStorageError) {
        let onRoot = if case .root = candidates { true } else { false }
        let assembled = try Assembly.assemble(
            try MemberDirectories.directories(candidates), requiringQuorum: !onRoot)
        geometry = assembled.geometry
        arrayID = assembled.arrayID
        assembly = assembled.report
        directories = MemberDirectories(candidates: candidates, members: assembled.members)
        self.keys = keys
        codec = try SegmentCodec(geometry: geometry)
        placement = Placement(geometry: geometry)
        self.unflushedSegmentLimit = max(1, unflushedSegmentLimit)
        let executor = StoreExecutor()
        self.executor = executor
        writers = SegmentWriters(geometry: assembled.geometry, lane: executor.sealing)
        journalPool = JournalPool(geometry: assembled.geometry, background: executor.background)
    }

    /// The directory of each member position, as of now: while a position is absent the candidates are looked at
    /// again first (at most every 100 ms), so a member that joined since (see
    /// ``init(memberRoot:keys:unflushedSegmentLimit:)``) is here.
    public var memberDirectories: [Int: FilePath] {
        _ = absentMembers()
        return members
    }

    /// Every position that is absent now, and why: missing, its label gone (an unmounted disk), damaged or naming
    /// another array or position, or its directory unreadable. Read afresh at each call.
    public func absentMemberIndices() -> [Int: String] {
        Dictionary(absentMembers().map { ($0.index, $0.reason) }, uniquingKeysWith: { first, _ in first })
    }

    /// Calls `observer` with each I/O error the store meets on a member from now on (not a file that is merely not
    /// there), on the thread that met it: it must be quick and must not call into the store.
    public func observeMemberErrors(_ observer: @escaping @Sendable (MemberError) -> Void) {
        memberErrors.add(observer)
    }

    /// Tells the observers of an error met on `member` (see ``observeMemberErrors(_:)``).
    func reportMemberError(_ member: Int, path: FilePath?, _ error: any Error, _ operation: String) {
        memberErrors.report(
            member: member, path: path?.string ?? members[member]?.string ?? "?", error: error, operation: operation)
    }

    /// Lets the store's workers finish what is queued, and returns once none is left. Appenders and readers still
    /// open go on working, their background jobs on their callers' threads; a store that is only dropped ends its
    /// workers within a second of its last job.
    public func shutdown() {
        executor.shutdown()
    }

    func layout(of member: Int) -> MemberLayout? {
        members[member].map(MemberLayout.init(root:))
    }

    /// Opens `name` for appending, recovering its durable state first.
    public func openAppender(for name: StreamName) throws(StreamStorageError) -> any StreamAppender {
        try ErasureStreamAppender(store: self, stream: name)
    }

    /// Opens `name` for reading as of now.
    public func openReader(for name: StreamName) throws(StreamStorageError) -> any StreamReader {
        try ErasureStreamReader(store: self, stream: name)
    }

    /// The names of every stream with anything on any member. A member whose streams directory cannot be listed
    /// adds none: a stream's files are on k + m members (its journal on m + 1), so the others name it, and what the
    /// caller does with each stream reads that member and meets its error there.
    public func streamNames() -> [StreamName] {
        var names: Set<StreamName> = []
        for root in members.values {
            for entry in (try? FileSystemCalls.entries(of: MemberLayout(root: root).streams)) ?? [] {
                if let name = try? StreamName(entry) { names.insert(name) }
            }
        }
        return names.sorted { $0.rawValue < $1.rawValue }
    }
}

/// What reassembling an array from its member directories found.
public struct AssemblyReport: Sendable, Hashable, CustomStringConvertible {
    /// Positions no given directory holds.
    public var missing: [Int]
    /// Directories that claim a position another directory already holds; not used.
    public var duplicates: [FilePath]
    /// Directories labelled as members of another array; not used, never touched.
    public var foreign: [FilePath]
    /// Directories without a label, or with one that does not decode; not used.
    public var unlabelled: [FilePath]
    /// Directories whose label exists but cannot be read (an I/O error): a failing disk, not a blank one; not used.
    public var unreadable: [FilePath] = []

    /// Whether every position is present and nothing else was given.
    public var isComplete: Bool {
        missing.isEmpty && duplicates.isEmpty && foreign.isEmpty && unlabelled.isEmpty && unreadable.isEmpty
    }

    /// One line per finding.
    public var description: String {
        var lines: [String] = []
        if !missing.isEmpty { lines.append("missing members: \(missing.map(String.init).joined(separator: ", "))") }
        for path in duplicates { lines.append("duplicate member (not used): \(path)") }
        for path in foreign { lines.append("member of another array (not used): \(path)") }
        for path in unlabelled { lines.append("not a member (no label): \(path)") }
        for path in unreadable { lines.append("label unreadable (a failing disk, not used): \(path)") }
        return lines.isEmpty ? "all members present" : lines.joined(separator: "\n")
    }
}
