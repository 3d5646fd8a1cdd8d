import CryptoPrimitives
import DurableFiles
import StoreFormat
import StreamStore
import SystemPackage

/// Appends records to the copies of a segment's journal and flushes them; an append returns only when every copy
/// holds the record durably.
///
/// A journal has m + 1 copies while every member of its placement is present. While some are absent (at most m − 1,
/// see ``ErasureCodedStore/absentWriteLimit``) it has a copy on each present one: a copy whose member vanishes under
/// a write or a flush is left out, and the record is acknowledged on the others, once the present members have
/// recorded that the vanished one missed writes (``MissedWrites``). A member that is back is given the journal again
/// (``rejoinReturnedMembers()``), so the journal of a segment that outlives an absence has all its copies again.
///
/// Copies with the same header hold the same record at each index: a record is sealed once and written to every
/// copy, and a journal is only continued under its header when every copy of it is present and trusted (otherwise it
/// is started again under a new salt, see ``resume(store:stream:segment:from:copies:tail:absent:distrusted:)``).
/// So a record under one key and nonce never has two different plaintexts, and the longest copy of a header holds
/// every shorter one.
struct JournalWriter {
    private struct Copy {
        var member: Int
        var descriptor: FileDescriptor
        var end: Int64
    }

    /// The members whose flush failed, as the flush jobs found them: settled by ``settle()``.
    private final class FlushFailures: Sendable {
        let failed = Guarded<[Int: StreamStorageError]>([:])
    }

    /// How often an appender whose journal lacks copies looks whether their members are back.
    static let rejoinInterval = Duration.milliseconds(100)

    private let store: ErasureCodedStore
    private let stream: String
    private let segment: UInt64
    private let header: JournalHeader
    private let key: SecretBytes
    private var copies: [Copy]
    private var nextRecord: UInt64
    private let flushFailures = FlushFailures()
    private var lastRejoinCheck = ContinuousClock.now

    /// Creates the journal of `segment` on its members present now, durably, before the first record.
    static func create(
        store: ErasureCodedStore, stream: String, segment: UInt64
    ) throws(StreamStorageError) -> JournalWriter {
        let what = "to create the journal of segment \(segment) of \(stream)"
        // A new journal takes the place of whatever a file of its name held on the present members: recovery decided
        // that was no journal with records to keep (a prepared one, or a stale one).
        let absent = try store.requireWriteQuorum(before: what)
        let header = try newHeader(store: store, stream: stream, segment: segment)
        let bytes = header.encoded()
        var copies: [Copy] = []
        do {
            for member in store.placement.journalMembers(segment: segment, stream: stream)
            where !absent.contains(member) {
                do throws(StreamStorageError) {
                    let descriptor = try store.createJournalFile(member: member, stream: stream, segment: segment)
                    do throws(StreamStorageError) {
                        try withBytes(of: bytes) { raw throws(StreamStorageError) in
                            try store.write(raw, to: descriptor, at: 0, member: member, what: "a journal header")
                        }
                    } catch {
                        FileSystemCalls.release(descriptor)
                        throw error
                    }
                    copies.append(Copy(member: member, descriptor: descriptor, end: Int64(bytes.count)))
                } catch {
                    try store.dropVanished(member, after: error, what: what)
                }
            }
            // Each copy and its directory flushed on its own member at once: a segment boundary waits for one flush
            // time, not 2 (m + 1).
            let dropped = try store.runPerMember(
                copies.map { copy in
                    (
                        copy.member,
                        { () throws(StreamStorageError) in
                            try store.flush(copy.descriptor, member: copy.member, what: "a journal header")
                            try store.flushDirectory(member: copy.member, stream: stream)
                        }
                    )
                }, what: what)
            Self.remove(dropped, from: &copies)
        } catch {
            for copy in copies { FileSystemCalls.release(copy.descriptor) }
            throw error
        }
        return try JournalWriter(
            store: store, stream: stream, segment: segment, header: header, copies: copies, nextRecord: 0)
    }

    /// Continues the journal found by recovery, whose longest trusted copy is `longest` and whose plaintext is
    /// `tail`. When every member of the journal is present and trusted, every copy is rewritten to the longest, so
    /// that all m + 1 hold every record again, and appends go on after it. Otherwise (a member `absent`, or
    /// `distrusted`: it missed writes, and its copy may hold a record the others do not, at the index the next
    /// record would take) the journal starts again under a new salt (``restart(store:stream:segment:tail:)``).
    static func resume(
        store: ErasureCodedStore, stream: String, segment: UInt64, from longest: StreamRecovery.JournalCopy,
        copies found: [StreamRecovery.JournalCopy], tail: [UInt8], absent: Set<Int>, distrusted: Set<Int>
    ) throws(StreamStorageError) -> JournalWriter {
        let members = store.placement.journalMembers(segment: segment, stream: stream)
        guard members.allSatisfy({ !absent.contains($0) && !distrusted.contains($0) }) else {
            return try restart(store: store, stream: stream, segment: segment, tail: tail)
        }
        guard let source = store.layout(of: longest.member) else {
            throw .unavailable("member \(longest.member) left the array during recovery")
        }
        // A copy that cannot be read again fails the resume with its own error: it is never taken for an empty one.
        let bytes = try MemberFile.read(
            source.journal(stream, segment: segment),
            limit: JournalHeader.fileLimit(segmentBytes: store.geometry.segmentBytes), what: "journal file"
        ) { store.reportMemberError(longest.member, path: source.journal(stream, segment: segment), $0, "read") }
        guard bytes.count >= longest.validLength else {
            throw .unavailable("the journal of \(stream) on member \(longest.member) shrank during recovery")
        }
        let valid = Array(bytes[..<longest.validLength])
        var copies: [Copy] = []
        do {
            for member in members {
                let layout = try store.requireLayout(member)
                let path = layout.journal(stream, segment: segment)
                let current = found.first { $0.member == member }
                let isIdentical = current.map { $0.validLength == valid.count && $0.header == longest.header } ?? false
                // A copy with the same records is continued in place, whatever follows them: the next record goes over
                // it, and what is left behind fails its checksum (see JournalHeader).
                if !isIdentical {
                    do {
                        try layout.createStreamDirectory(stream)
                        try valid.withUnsafeBytes {
                            try FileSystemCalls.writeAtomically($0, to: path, permissions: MemberLayout.filePermissions)
                        }
                    } catch {
                        store.reportMemberError(member, path: path, error, "rewrite")
                        throw StreamStorageError.memberIO(
                            "rewriting the journal on member \(member):", path: path.string, error: error)
                    }
                }
                let descriptor: FileDescriptor
                do {
                    descriptor = try FileSystemCalls.open(path, .writeOnly, options: [.closeOnExec])
                } catch {
                    store.reportMemberError(member, path: path, error, "open")
                    throw StreamStorageError.memberIO(
                        "opening the journal on member \(member):", path: path.string, error: error)
                }
                copies.append(Copy(member: member, descriptor: descriptor, end: Int64(valid.count)))
            }
        } catch {
            for copy in copies { FileSystemCalls.release(copy.descriptor) }
            throw error as? StreamStorageError ?? .io("resuming the journal of", path: stream, error: error)
        }
        return try JournalWriter(
            store: store, stream: stream, segment: segment, header: longest.header, copies: copies,
            nextRecord: UInt64(longest.records.count))
    }

    /// Starts the journal of `segment` again under a new salt, holding `tail` (the segment's journaled bytes) as
    /// one record, on its members present now, each copy written whole and flushed before it replaces the old one (a
    /// crash leaves every copy either old or new, and both hold the tail). The absent members have recorded first
    /// that they miss it, so their old copies, which may be longer, are never taken for the journal again.
    private static func restart(
        store: ErasureCodedStore, stream: String, segment: UInt64, tail: [UInt8]
    ) throws(StreamStorageError) -> JournalWriter {
        let what = "to resume the journal of segment \(segment) of \(stream)"
        let absent = try store.requireWriteQuorum(before: what)
        let header = try newHeader(store: store, stream: stream, segment: segment)
        var record: [UInt8] = []
        if !tail.isEmpty {
            do {
                let key = try header.recordKey(journalKey: store.keys.journalKey)
                record = try tail.withUnsafeBytes {
                    try JournalRecord.seal($0, at: header.segmentOffset, index: 0, header: header, key: key)
                }
            } catch {
                throw .configuration("cannot encrypt a journal record: \(error)")
            }
        }
        let bytes = header.encoded() + record
        let members = store.placement.journalMembers(segment: segment, stream: stream).filter { !absent.contains($0) }
        let dropped = try store.runPerMember(
            members.map { member in
                (
                    member,
                    { () throws(StreamStorageError) in
                        let layout = try store.requireLayout(member)
                        let path = layout.journal(stream, segment: segment)
                        do {
                            try layout.createStreamDirectory(stream)
                            try bytes.withUnsafeBytes {
                                try FileSystemCalls.writeAtomically(
                                    $0, to: path, permissions: MemberLayout.filePermissions)
                            }
                        } catch {
                            store.reportMemberError(member, path: path, error, "rewrite")
                            throw .memberIO(
                                "rewriting the journal on member \(member):", path: path.string, error: error)
                        }
                    }
                )
            }, what: what)
        var copies: [Copy] = []
        for member in members where !dropped.contains(member) {
            let path = try store.requireLayout(member).journal(stream, segment: segment)
            do {
                copies.append(
                    Copy(
                        member: member,
                        descriptor: try FileSystemCalls.open(path, .writeOnly, options: [.closeOnExec]),
                        end: Int64(bytes.count)))
            } catch {
                store.reportMemberError(member, path: path, error, "open")
                for copy in copies { FileSystemCalls.release(copy.descriptor) }
                throw .memberIO("opening the journal on member \(member):", path: path.string, error: error)
            }
        }
        return try JournalWriter(
            store: store, stream: stream, segment: segment, header: header, copies: copies,
            nextRecord: tail.isEmpty ? 0 : 1)
    }

    private static func newHeader(
        store: ErasureCodedStore, stream: String, segment: UInt64
    ) throws(StreamStorageError) -> JournalHeader {
        let salt: [UInt8]
        do {
            salt = try CryptoRandom.bytes(count: 32)
        } catch {
            throw .configuration("no random bytes for a journal: \(error)")
        }
        return JournalHeader(
            arrayID: store.arrayID, stream: stream, segment: segment,
            segmentOffset: segment * UInt64(store.geometry.segmentBytes), salt: salt)
    }

    private init(
        store: ErasureCodedStore, stream: String, segment: UInt64, header: JournalHeader, copies: [Copy],
        nextRecord: UInt64
    ) throws(StreamStorageError) {
        self.store = store
        self.stream = stream
        self.segment = segment
        self.header = header
        self.copies = copies
        self.nextRecord = nextRecord
        do {
            key = try header.recordKey(journalKey: store.keys.journalKey)
        } catch {
            for copy in copies { FileSystemCalls.release(copy.descriptor) }
            throw .configuration("cannot derive the journal's record key: \(error)")
        }
    }

    /// The members holding a copy now.
    var members: [Int] { copies.map(\.member) }

    /// Appends one record holding `plaintext` (the stream's bytes at `offset`) to every copy and flushes them.
    mutating func append(_ plaintext: UnsafeRawBufferPointer, at offset: UInt64) throws(StreamStorageError) {
        try write(plaintext, at: offset)
        try store.executor.io.runAll(flushJobs())
        try settle()
    }

    /// Writes one record holding `plaintext` (the stream's bytes at `offset`) to every copy, without a flush: the
    /// record is durable once ``flushJobs()`` have run and ``settle()`` has returned, which lets a caller flush two
    /// journals side by side. A copy whose member vanished is left out.
    mutating func write(_ plaintext: UnsafeRawBufferPointer, at offset: UInt64) throws(StreamStorageError) {
        let record: [UInt8]
        do {
            record = try JournalRecord.seal(plaintext, at: offset, index: nextRecord, header: header, key: key)
        } catch {
            throw .configuration("cannot encrypt a journal record: \(error)")
        }
        var index = 0
        while index < copies.count {
            let copy = copies[index]
            do throws(StreamStorageError) {
                try withBytes(of: record) { bytes throws(StreamStorageError) in
                    try store.write(
                        bytes, to: copy.descriptor, at: copy.end, member: copy.member, what: "a journal record")
                }
            } catch {
                try store.dropVanished(copy.member, after: error, what: "to journal \(stream)")
                FileSystemCalls.release(copy.descriptor)
                copies.remove(at: index)
                continue
            }
            copies[index].end += Int64(record.count)
            index += 1
        }
        nextRecord += 1
    }

    /// One flush per copy, for the store's io lane (``WorkerLane/runAll(_:)``). The jobs do not throw: a failure is
    /// kept for ``settle()``, which the caller must call once they have run, before counting the record durable.
    func flushJobs() -> [() throws -> Void] {
        let store = self.store
        let failures = flushFailures
        return copies.map { copy in
            { () in
                do throws(StreamStorageError) {
                    try store.flush(copy.descriptor, member: copy.member, what: "a journal record")
                } catch {
                    failures.failed.withLock(waking: .none) { $0[copy.member] = error }
                }
            }
        }
    }

    /// Settles the failures of the last ``flushJobs()``: a copy whose member vanished is left out (the record is
    /// durable on the others, and the present members have recorded that it missed writes); any other failure is
    /// thrown, and the record is not durable.
    mutating func settle() throws(StreamStorageError) {
        let failed = flushFailures.failed.withLock(waking: .none) { failed in
            defer { failed = [:] }
            return failed
        }
        for (member, error) in failed.sorted(by: { $0.key < $1.key }) {
            try store.dropVanished(member, after: error, what: "to journal \(stream)")
        }
        Self.remove(Array(failed.keys), from: &copies)
    }

    /// Gives the journal back to those of its members that were left out and are present again, at most every
    /// ``rejoinInterval``: each gets the journal's header and records so far (read from a copy, written whole and
    /// flushed before it replaces whatever the member held), and the next record goes to it too. A member that
    /// cannot take it is tried again later; meanwhile the journal has one copy less.
    mutating func rejoinReturnedMembers() {
        let placed = store.placement.journalMembers(segment: segment, stream: stream)
        guard copies.count < placed.count, let source = copies.first else { return }
        let now = ContinuousClock.now
        guard lastRejoinCheck.duration(to: now) >= Self.rejoinInterval else { return }
        lastRejoinCheck = now
        let absent = Set(store.absentMembers().map(\.index))
        let returned = placed.filter { member in !absent.contains(member) && !copies.contains { $0.member == member } }
        guard !returned.isEmpty, let sourceLayout = store.layout(of: source.member) else { return }
        let sourcePath = sourceLayout.journal(stream, segment: segment)
        guard
            let bytes = try? MemberFile.read(
                sourcePath, limit: JournalHeader.fileLimit(segmentBytes: store.geometry.segmentBytes),
                what: "journal file"),
            bytes.count >= Int(source.end)
        else { return }
        let valid = Array(bytes[..<Int(source.end)])
        for member in returned {
            guard let layout = store.layout(of: member) else { continue }
            let path = layout.journal(stream, segment: segment)
            do {
                try layout.createStreamDirectory(stream)
                try valid.withUnsafeBytes {
                    try FileSystemCalls.writeAtomically($0, to: path, permissions: MemberLayout.filePermissions)
                }
                let descriptor = try FileSystemCalls.open(path, .writeOnly, options: [.closeOnExec])
                copies.append(Copy(member: member, descriptor: descriptor, end: source.end))
            } catch {
                store.reportMemberError(member, path: path, error, "rewrite")
            }
        }
    }

    private static func remove(_ members: [Int], from copies: inout [Copy]) {
        for copy in copies where members.contains(copy.member) { FileSystemCalls.release(copy.descriptor) }
        copies.removeAll { members.contains($0.member) }
    }

    /// Cuts every copy back to its records. A journal taken from a pool is a spare's whole capacity long (a segment
    /// and more) from its first record, and a stream that stops a few bytes into a segment would keep that on m + 1
    /// members for as long as it exists. No flush: a cut lost in a power cut leaves only the longer file, whose tail
    /// fails its checksums.
    func trimToRecords() {
        // A cut that fails leaves the longer file, as a cut lost in a power cut does: space, not data.
        for copy in copies { try? FileSystemCalls.resize(copy.descriptor, to: copy.end) }
    }

    func close() {
        for copy in copies { FileSystemCalls.release(copy.descriptor) }
    }
}
