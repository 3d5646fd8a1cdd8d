import DurableFiles
import Foundation
import StoreFormat
import SystemPackage

/// Spare journal files on every member, reused for new journals, as PostgreSQL reuses its write-ahead log files.
///
/// A journal record appended to a growing file changes the file's size, so its flush waits for a commit of the
/// filesystem's own journal; a record written over blocks the file already owns is flushed with its data alone,
/// several times faster (`docs/storage-engine.md`, write path, item 6). So a new journal takes a spare where one is
/// ready: a file of ``capacity`` bytes, either
/// zeros written and flushed before it was first used, or a retired journal. What a spare held before is never read
/// as records (see ``JournalHeader``).
///
/// A new array starts with ``initialSparesPerMember`` on each member (a stream's successive journals fall on
/// different members, see ``Placement``). Retired journals refill the pools, up to ``sparesPerMember`` each, so at
/// most that many times ``capacity`` bytes per member are spare. A member whose pool runs dry (a replaced disk, an
/// array older than pools, many streams journaling at once) is refilled in the background to
/// ``refillSparesPerMember``, and its journals meanwhile grow as before.
final class JournalPool: Sendable {
    static let sparesPerMember = 4
    static let initialSparesPerMember = 2
    static let refillSparesPerMember = 2
    private static let sparePrefix = "spare-"

    /// Bytes of a spare: a segment's bytes, the 36 bytes of framing of each record for records down to 576 bytes, and
    /// the header. Smaller records overflow it, and the file grows as a new one would.
    let capacity: Int
    /// The pools being refilled in the background, one job each.
    private let filling = Guarded<Set<FilePath>>([])
    /// Where refills run; nil for an array being created, whose pools are filled by the caller.
    private let background: WorkerLane<Void>?

    init(geometry: ArrayGeometry, background: WorkerLane<Void>? = nil) {
        capacity = geometry.segmentBytes + geometry.segmentBytes / 16 + 4096
        self.background = background
    }

    /// Renames a spare of the member's pool to `path` and opens it for writing, untruncated; nil when the pool has
    /// none, and then the pool is refilled in the background.
    func take(_ layout: MemberLayout, as path: FilePath) -> FileDescriptor? {
        for name in spares(layout) {
            // Another appender of this store may have taken it first: then the rename fails and the next one is tried.
            guard (try? FileSystemCalls.rename(layout.journalPool.appending(name), to: path)) != nil else { continue }
            // A spare that cannot be opened: the caller creates the journal anew over it, and reports that failing.
            return try? FileSystemCalls.open(path, .writeOnly, options: [.closeOnExec])
        }
        refillInBackground(layout)
        return nil
    }

    /// Moves a stale journal into the member's pool, or removes it when the pool is full or the journal too small to
    /// be worth keeping. Either way its header (`headerBytes`) is wiped first, and the wipe flushed: the header holds
    /// the salt without which the journal key opens none of its records, so a spare on a pulled disk tells nothing.
    /// The rename needs no flush: a spare lost in a power cut costs only its reuse, and recovery wipes the stale
    /// journal it leaves behind before removing it.
    ///
    /// Nothing is reported: a journal here is stale (its segment is durable elsewhere), so each failure only costs a
    /// spare, and the next recovery removes what is left.
    func retire(_ path: FilePath, in layout: MemberLayout, headerBytes: Int) {
        let keeps =
            Self.wipeHeader(path, bytes: headerBytes) && spares(layout).count < Self.sparesPerMember
            && ((try? FileSystemCalls.size(at: path)) ?? 0) >= UInt64(capacity)
        if keeps, (try? FileSystemCalls.rename(path, to: layout.journalPool.appending(Self.spareName()))) != nil {
            return
        }
        // A journal whose header could not be wiped (its member fails) is never reused: removing it is what is left.
        try? FileSystemCalls.remove(path)
    }

    /// Overwrites the first `bytes` of a journal file with zeros and flushes them; false when that failed or there is
    /// no such file. Never through a symbolic link: a name on a disk someone held could point at any file the
    /// service may write, and the wipe would zero that file's first bytes.
    static func wipeHeader(_ path: FilePath, bytes: Int) -> Bool {
        guard let file = try? FileSystemCalls.open(path, .writeOnly, options: [.closeOnExec, .noFollow]) else {
            return false
        }
        defer { FileSystemCalls.release(file) }
        do {
            let zeros = [UInt8](repeating: 0, count: min(bytes, Int(try FileSystemCalls.size(of: file))))
            try zeros.withUnsafeBytes { try FileSystemCalls.writeAll(file, $0, at: 0) }
            try FileSystemCalls.synchroniseData(file)
            return true
        } catch {
            return false
        }
    }

    /// Prepares spares of zeros until the member's pool holds `count`. Each is written and flushed without a name and
    /// named only then, so a crash leaves no half-written spare. Throws `notSupported` where the filesystem has no
    /// unnamed files: journals there are never reused.
    func fill(_ layout: MemberLayout, upTo count: Int) throws(Errno) {
        try FileSystemCalls.createDirectory(layout.journalPool, permissions: MemberLayout.directoryPermissions)
        var present = spares(layout).count
        guard present < count else { return }
        let zeros = [UInt8](repeating: 0, count: min(capacity, 1 << 20))
        while present < count {
            let file = try FileSystemCalls.createUnnamed(
                in: layout.journalPool, permissions: MemberLayout.filePermissions)
            defer { FileSystemCalls.release(file) }
            var written = 0
            while written < capacity {
                let piece = min(zeros.count, capacity - written)
                do {
                    try zeros[..<piece].withUnsafeBytes { try FileSystemCalls.writeAll(file, $0, at: Int64(written)) }
                } catch {
                    throw error as? Errno ?? .ioError
                }
                written += piece
            }
            // fsync, not fdatasync: the file's extents must be durable too, or its first use would commit them.
            try FileSystemCalls.synchronise(file)
            try FileSystemCalls.link(file, at: layout.journalPool.appending(Self.spareName()))
            present += 1
        }
    }

    private func refillInBackground(_ layout: MemberLayout) {
        guard let background else { return }
        let pool = layout.journalPool
        guard filling.withLock({ $0.insert(pool).inserted }) else { return }
        background.submit { [self] _ in
            // A member that fails here fails its journal writes too, and those report it.
            try? fill(layout, upTo: Self.refillSparesPerMember)
            filling.withLock { _ = $0.remove(pool) }
        }
    }

    /// The pool's spares; none when its directory cannot be listed, and then journals grow as they would without a
    /// pool (the pool only saves flush time; a failing member fails its journal writes, and those report it).
    private func spares(_ layout: MemberLayout) -> [String] {
        ((try? FileSystemCalls.entries(of: layout.journalPool)) ?? []).filter { $0.hasPrefix(Self.sparePrefix) }
    }

    private static func spareName() -> String {
        Self.sparePrefix + String(UInt64.random(in: 0...UInt64.max), radix: 16)
    }
}
