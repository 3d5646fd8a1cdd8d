import CryptoPrimitives
import DurableFiles
import StoreFormat
import StreamStore
import SystemPackage

/// Appends records to the m + 1 copies of a segment's journal and flushes them; an append returns only when
/// every copy holds the record durably.
struct JournalWriter {
    private struct Copy {
        var member: Int
        var descriptor: FileDescriptor
        var end: Int64
    }

    private let store: ErasureCodedStore
    private let header: JournalHeader
    private let key: SecretBytes
    private var copies: [Copy]
    private var nextRecord: UInt64

    /// Creates the journal of `segment` on its m + 1 members, durably, before the first record.
    static func create(
        store: ErasureCodedStore, stream: String, segment: UInt64
    ) throws(StreamStorageError) -> JournalWriter {
        // A new journal takes the place of whatever a file of its name held: never while a member is absent.
        try store.requireEveryMemberPresent(before: "to create the journal of segment \(segment) of \(stream)")
        let salt: [UInt8]
        do {
            salt = try CryptoRandom.bytes(count: 32)
        } catch {
            throw .configuration("no random bytes for a journal: \(error)")
        }
        let header = JournalHeader(
            arrayID: store.arrayID, stream: stream, segment: segment,
            segmentOffset: segment * UInt64(store.geometry.segmentBytes), salt: salt)
        let bytes = header.encoded()
        var copies: [Copy] = []
        do {
            for member in store.placement.journalMembers(segment: segment, stream: stream) {
                let descriptor = try store.createJournalFile(member: member, stream: stream, segment: segment)
                copies.append(Copy(member: member, descriptor: descriptor, end: Int64(bytes.count)))
                try withBytes(of: bytes) { raw throws(StreamStorageError) in
                    try store.write(raw, to: descriptor, at: 0, member: member, what: "a journal header")
                }
            }
            // Each copy and its directory flushed on its own member at once: a segment boundary waits for one flush
            // time, not 2 (m + 1).
            try store.executor.io.runAll(
                copies.map { copy in
                    { () throws in
                        try store.flush(copy.descriptor, member: copy.member, what: "a journal header")
                        try store.flushDirectory(member: copy.member, stream: stream)
                    }
                })
        } catch {
            for copy in copies { FileSystemCalls.release(copy.descriptor) }
            throw error
        }
        return try JournalWriter(store: store, header: header, copies: copies, nextRecord: 0)
    }

    /// Continues the journal found by recovery: every copy is rewritten to the longest valid one, so that all
    /// m + 1 hold every record again, and appends go on after it.
    static func resume(
        store: ErasureCodedStore, stream: String, segment: UInt64, from longest: StreamRecovery.JournalCopy,
        copies found: [StreamRecovery.JournalCopy]
    ) throws(StreamStorageError) -> JournalWriter {
        // A copy on an absent member may hold more than the longest one seen.
        try store.requireEveryMemberPresent(before: "to rewrite the journal of segment \(segment) of \(stream)")
        guard let source = store.layout(of: longest.member) else {
            throw .unavailable("member \(longest.member) left the array during recovery")
        }
        // A copy that cannot be read again fails the resume with its own error: it is never taken for an empty one.
        let bytes = try MemberFile.read(
            source.journal(stream, segment: segment),
            limit: JournalHeader.fileLimit(segmentBytes: store.geometry.segmentBytes), what: "journal file")
        guard bytes.count >= longest.validLength else {
            throw .unavailable("the journal of \(stream) on member \(longest.member) shrank during recovery")
        }
        let valid = Array(bytes[..<longest.validLength])
        var copies: [Copy] = []
        do {
            for member in store.placement.journalMembers(segment: segment, stream: stream) {
                let layout = try store.requireLayout(member)
                let path = layout.journal(stream, segment: segment)
                let current = found.first { $0.member == member }
                let isIdentical = current.map { $0.validLength == valid.count && $0.header == longest.header } ?? false
                // A copy with the same records is continued in place, whatever follows them: the next record goes over
                // it, and what is left behind fails its checksum (see JournalHeader).
                if !isIdentical {
                    do {
                        try layout.createStreamDirectory(stream)
                        try valid.withUnsafeBytes { try FileSystemCalls.writeAtomically($0, to: path) }
                    } catch {
                        throw StreamStorageError.io(
                            "rewriting the journal on member \(member):", path: path.string,
                            error: error)
                    }
                }
                let descriptor: FileDescriptor
                do {
                    descriptor = try FileSystemCalls.open(path, .writeOnly, options: [.closeOnExec])
                } catch {
                    throw StreamStorageError.io(
                        "opening the journal on member \(member):", path: path.string,
                        error: error)
                }
                copies.append(Copy(member: member, descriptor: descriptor, end: Int64(valid.count)))
            }
        } catch {
            for copy in copies { FileSystemCalls.release(copy.descriptor) }
            throw error as? StreamStorageError ?? .io("resuming the journal of", path: stream, error: error)
        }
        return try JournalWriter(
            store: store, header: longest.header, copies: copies, nextRecord: UInt64(longest.records.count))
    }

    private init(
        store: ErasureCodedStore, header: JournalHeader, copies: [Copy], nextRecord: UInt64
    ) throws(StreamStorageError) {
        self.store = store
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

    /// Appends one record holding `plaintext` (the stream's bytes at `offset`) to every copy and flushes them.
    mutating func append(_ plaintext: UnsafeRawBufferPointer, at offset: UInt64) throws(StreamStorageError) {
        try write(plaintext, at: offset)
        try store.executor.io.runAll(flushJobs())
    }

    /// Writes one record holding `plaintext` (the stream's bytes at `offset`) to every copy, without a flush: the
    /// record is durable once ``flushJobs()`` have run, which lets a caller flush two journals side by side.
    mutating func write(_ plaintext: UnsafeRawBufferPointer, at offset: UInt64) throws(StreamStorageError) {
        let record: [UInt8]
        do {
            record = try JournalRecord.seal(plaintext, at: offset, index: nextRecord, header: header, key: key)
        } catch {
            throw .configuration("cannot encrypt a journal record: \(error)")
        }
        for index in copies.indices {
            try withBytes(of: record) { bytes throws(StreamStorageError) in
                try store.write(
                    bytes, to: copies[index].descriptor, at: copies[index].end, member: copies[index].member,
                    what: "a journal record")
            }
            copies[index].end += Int64(record.count)
        }
        nextRecord += 1
    }

    /// One flush per copy, for the store's io lane (``WorkerLane/runAll(_:)``).
    func flushJobs() -> [() throws -> Void] {
        let store = self.store
        return copies.map { copy in
            { () throws in
                try store.flush(copy.descriptor, member: copy.member, what: "a journal record")
            }
        }
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
