import CryptoPrimitives
import DurableFiles
import HashChain
import StoreFormat
import StreamStore
import SystemPackage

/// The one writer of a stream in an ``ErasureCodedStore``.
///
/// Bytes collect in the open segment's buffer, hashed into the chain as they come. A full segment goes to the
/// store's ``SegmentWriters``, which seal it and write its shard files in the background, without a flush, while
/// the next segment fills; ``makeDurable()`` waits for those writes, flushes every written segment, and journals
/// the part of the open segment not yet journaled on m + 1 members, then flushes those. So bulk data is written
/// once, erasure-coded, and a small append costs one journal record on m + 1 members, not a stripe.
///
/// A segment that fills while it has a journal (small appends) is covered by that journal instead: the next
/// ``makeDurable()`` journals the segment's last few bytes, and the writers write and flush its shards in the
/// background; only then is the journal retired. So the appends that cross a segment boundary do not wait for a seal,
/// eleven shard writes and their flushes; recovery folds a journal that covers a whole segment into its shards.
final class ErasureStreamAppender: StreamAppender {
    /// The most bytes of a full segment that may still be unjournaled for its journal to cover it; beyond that,
    /// writing them m + 1 times costs more than waiting for the segment's own write.
    static let coverLimit = 1 << 20

    /// A full segment's journal and the bytes it still lacks, written at the next durable point.
    private struct Cover {
        var journal: JournalWriter
        var remainder: [UInt8]
        var offset: UInt64
    }

    let name: StreamName
    private let store: ErasureCodedStore
    /// The stream's lock on every member present when it was taken (see ``acquireLock(store:stream:)``).
    private let lock: [FileDescriptor]
    private(set) var durableLength: UInt64
    private(set) var appendedLength: UInt64
    private var segment: UInt64
    private var buffer: [UInt8]
    private var journaledBytes: Int
    private var chain: StreamHashChain
    private var journal: JournalWriter?
    /// The next segment's journal, being created in the background.
    private var prepared: PreparedJournal?
    private var cover: Cover?
    /// Segments written by the writers and not yet flushed.
    private var unflushed: [SealTracker.SealedSegment] = []
    private let sealing = SealTracker()
    private var failure: StreamStorageError?
    private var closed = false
    /// The chain head at the end of the last segment handed to the writers.
    private var lastSealedHead = ChainHead.empty

    init(store: ErasureCodedStore, stream: StreamName) throws(StreamStorageError) {
        self.store = store
        name = stream
        let limit = store.absentWriteLimit
        let absent = store.absentMembers()
        if absent.count > limit {
            // Refused before the lock, which creates files: the stream stays exactly as it is.
            throw ErasureCodedStore.refusal(
                "to open an appender for \(stream)", absent: absent, limit: limit)
        }
        if !absent.isEmpty {
            // Also refused before the lock when the scan, which only reads, cannot decide where the stream ends.
            try StreamRecovery.scan(store, stream: stream.rawValue).requireResumable(stream.rawValue, limit: limit)
        }
        lock = try Self.acquireLock(store: store, stream: stream.rawValue)
        do {
            var state = try StreamRecovery.scan(store, stream: stream.rawValue)
            try state.requireResumable(stream.rawValue, limit: limit)
            while state.journaledBytes == store.geometry.segmentBytes {
                try Self.fold(state, store: store, stream: stream.rawValue)
                state = try StreamRecovery.scan(store, stream: stream.rawValue)
                try state.requireResumable(stream.rawValue, limit: limit)
            }
            let tail = try state.tail(keys: store.keys)
            segment = state.committed
            buffer = tail
            // An empty buffer takes its room when the first byte comes: an idle stream holds no segment's memory.
            if !tail.isEmpty { buffer.reserveCapacity(store.geometry.segmentBytes) }
            journaledBytes = tail.count
            let segmentStart = state.committed * UInt64(store.geometry.segmentBytes)
            chain = StreamHashChain(boundaryLength: segmentStart, boundaryHead: state.chainHead)
            chain.append(tail)
            durableLength = segmentStart + UInt64(tail.count)
            appendedLength = durableLength
            durableHead = chain.head
            try repair(after: state, tail: tail)
        } catch {
            for descriptor in lock { FileSystemCalls.release(descriptor) }
            throw error
        }
    }

    /// Dropped without ``close()``: nothing waits here. The writers close the files of this stream's segments as
    /// their writes end, and the stream's lock after the last of them (``SealTracker/abandon(releasing:)``), so no
    /// new appender recovers the stream while one still runs; a prepared journal is closed when its preparation
    /// ends. Nothing past the last durable point was promised, and the next appender's recovery finds what a crash
    /// would leave.
    deinit {
        guard !closed else { return }
        cover?.journal.close()
        journal?.close()
        prepared?.abandon()
        store.writers.recycle(&buffer)
        for sealed in unflushed {
            for file in sealed.files { FileSystemCalls.release(file.descriptor) }
        }
        sealing.abandon(releasing: lock)
    }

    private(set) var durableHead: ChainHead

    func append(_ bytes: UnsafeRawBufferPointer) throws(StreamStorageError) {
        try checkUsable()
        var remaining = bytes
        if buffer.isEmpty && !remaining.isEmpty && buffer.capacity < store.geometry.segmentBytes {
            buffer = store.writers.takeBuffer()
        }
        while !remaining.isEmpty {
            let take = min(remaining.count, store.geometry.segmentBytes - buffer.count)
            let piece = UnsafeRawBufferPointer(rebasing: remaining[..<take])
            buffer.append(contentsOf: piece)
            chain.append(piece)
            appendedLength += UInt64(take)
            remaining = UnsafeRawBufferPointer(rebasing: remaining[take...])
            if buffer.count == store.geometry.segmentBytes {
                sealOpenSegment()
                if unflushed.count + sealing.inFlightCount >= store.unflushedSegmentLimit {
                    // Recovery verifies only that many of the last segments: no more may be unflushed at once.
                    _ = try makeDurable()
                    try failing { () throws(StreamStorageError) in
                        if let failure = sealing.waitForAll(includingBackground: true).failure { throw failure }
                    }
                }
                if !remaining.isEmpty { buffer = store.writers.takeBuffer() }
            }
        }
    }

    func makeDurable() throws(StreamStorageError) -> UInt64 {
        try checkUsable()
        try failing { () throws(StreamStorageError) in
            // A covered segment's last bytes and the open segment's new ones go to their two journals, and all the
            // copies are flushed side by side.
            var flushes = try writeCover()
            try flushSealedSegments()
            if buffer.count > journaledBytes {
                if journal == nil { journal = try openJournal() }
                // A member the journal left out while it was absent gets it back before the record.
                journal!.rejoinReturnedMembers()
                try withBytes(of: buffer) { bytes throws(StreamStorageError) in
                    try journal!.write(
                        UnsafeRawBufferPointer(rebasing: bytes[journaledBytes...]),
                        at: segment * UInt64(store.geometry.segmentBytes) + UInt64(journaledBytes))
                }
                flushes += journal!.flushJobs()
            }
            try store.executor.io.runAll(flushes)
            // A copy whose member vanished during its flush is left out; the record is durable on the others.
            try cover?.journal.settle()
            try journal?.settle()
            journaledBytes = buffer.count
            closeCover()
            if prepared == nil && journal != nil && journaledBytes >= store.geometry.segmentBytes / 2 {
                // Half way, so that its flushes do not meet the boundary's.
                prepared = PreparedJournal(store: store, stream: name.rawValue, segment: segment + 1)
            }
        }
        durableLength = appendedLength
        durableHead = chain.head
        return durableLength
    }

    /// Flushes the full segments written since the last durable point and leaves the open segment's bytes
    /// unjournaled: bulk bytes are then written once, in their segment. Everything, when no segment filled since.
    func makeDurableToBoundary() throws(StreamStorageError) -> UInt64 {
        try checkUsable()
        let boundary = segment * UInt64(store.geometry.segmentBytes)
        guard boundary > durableLength else { return try makeDurable() }
        try failing { () throws(StreamStorageError) in
            try store.executor.io.runAll(try writeCover())
            try cover?.journal.settle()
            closeCover()
            try flushSealedSegments()
        }
        durableLength = boundary
        durableHead = lastSealedHead
        return durableLength
    }

    func close() {
        guard !closed else { return }
        closed = true
        // The writers may still hold segments of this stream; their files are closed here, unflushed, as a crash
        // would leave them: nothing past the last makeDurable was acknowledged.
        unflushed += sealing.waitForAll(includingBackground: true).written
        closeCover()
        if let unused = prepared {
            // Prepared for a segment whose bytes were never journaled: stale already.
            unused.discard()
            store.retireJournals(stream: name.rawValue, segment: unused.segment)
            prepared = nil
        }
        store.writers.recycle(&buffer)
        for sealed in unflushed {
            for file in sealed.files { FileSystemCalls.release(file.descriptor) }
        }
        unflushed = []
        // Only after a clean run and with every member present: nothing is cut while a member is absent. The labels
        // are read only when there is a journal to cut.
        if let journal, failure == nil, store.absentMembers().isEmpty { journal.trimToRecords() }
        journal?.close()
        journal = nil
        for descriptor in lock { FileSystemCalls.release(descriptor) }
    }

    private func checkUsable() throws(StreamStorageError) {
        if closed { throw StreamStorageError(kind: .io, message: "the appender of \(name) is closed") }
        if failure == nil, let failed = sealing.firstFailure { failure = failed }
        if let failure {
            throw StreamStorageError(
                kind: failure.kind,
                message: "the appender of \(name) failed earlier (\(failure)); nothing acknowledged is lost: reopen it")
        }
    }

    /// Runs `body`; a failure poisons the appender, because a half-done write leaves its buffers out of step.
    private func failing(_ body: () throws(StreamStorageError) -> Void) throws(StreamStorageError) {
        do {
            try body()
        } catch {
            failure = error
            throw error
        }
    }

    /// Hands the full open segment to the writers and opens the next one. A failure of the write comes back
    /// through ``sealing`` and poisons the appender at its next call.
    private func sealOpenSegment() {
        let geometry = store.geometry
        if let unused = prepared, unused.segment == segment {
            // Prepared for a segment that filled without a journal: its files are stale once the segment is flushed.
            unused.discard()
            prepared = nil
        }
        let covered = journal != nil && buffer.count - journaledBytes <= Self.coverLimit
        if covered, let journal {
            cover = Cover(
                journal: journal, remainder: Array(buffer[journaledBytes...]),
                offset: segment * UInt64(geometry.segmentBytes) + UInt64(journaledBytes))
        } else {
            // The old journal stays on the members until its segment is flushed; only then is it stale.
            journal?.close()
        }
        journal = nil
        let template = Self.shardTemplate(
            store: store, stream: name.rawValue, segment: segment, chainHead: chain.chunkBoundaryHead)
        precondition(chain.length == (segment + 1) * UInt64(geometry.segmentBytes), "segments end on chunk boundaries")
        lastSealedHead = template.chainHead
        var full: [UInt8] = []
        swap(&full, &buffer)
        store.writers.submit(
            SegmentWriters.Job(
                store: store, plaintext: full, template: template, stream: name.rawValue, segment: segment,
                tracker: sealing, coveredByJournal: covered))
        segment += 1
        journaledBytes = 0
    }

    /// The header every shard of a segment shares, before sealing fills in its keys and tag.
    private static func shardTemplate(
        store: ErasureCodedStore, stream: String, segment: UInt64, chainHead: ChainHead
    ) -> ShardHeader {
        let geometry = store.geometry
        return ShardHeader(
            arrayID: store.arrayID, stream: stream, segment: segment, shardIndex: 0,
            dataShards: geometry.dataShards, parityShards: geometry.parityShards, shardBytes: geometry.shardBytes,
            blockBytes: geometry.blockBytes, streamOffset: segment * UInt64(geometry.segmentBytes),
            chainHead: chainHead, encapsulatedKey: [], wrappedKey: [], dataTag: [])
    }

    /// Writes the segment a journal covers whole into its shards, flushes them and removes the journal: a writer
    /// died between covering the segment and the end of its background write.
    private static func fold(
        _ state: StreamRecovery, store: ErasureCodedStore, stream: String
    ) throws(StreamStorageError) {
        let plaintext = try state.tail(keys: store.keys)
        let segment = state.committed
        var chain = StreamHashChain(
            boundaryLength: segment * UInt64(store.geometry.segmentBytes), boundaryHead: state.chainHead)
        chain.append(plaintext)
        let tracker = SealTracker()
        store.writers.submit(
            SegmentWriters.Job(
                store: store, plaintext: plaintext,
                template: shardTemplate(store: store, stream: stream, segment: segment, chainHead: chain.head),
                stream: stream, segment: segment, tracker: tracker))
        let (written, failure) = tracker.waitForAll()
        if let failure { throw failure }
        try store.makeDurable(written: written, stream: stream)
        // Stale now; while a member is absent it stays, and recovery passes it by (its segment is committed).
        if store.absentMembers().isEmpty { try store.removeJournals(stream: stream, segment: segment) }
    }

    /// Writes what a covered segment's journal lacks, and returns the flushes that make it durable: then the segment
    /// is, without waiting for its own write.
    private func writeCover() throws(StreamStorageError) -> [() throws -> Void] {
        guard var pending = cover, !pending.remainder.isEmpty else { return [] }
        try withBytes(of: pending.remainder) { bytes throws(StreamStorageError) in
            try pending.journal.write(bytes, at: pending.offset)
        }
        pending.remainder = []
        cover = pending
        return pending.journal.flushJobs()
    }

    /// Closes a covered segment's journal once written and flushed (or abandoned), and retires the journals of
    /// covered segments whose shards the writers have made durable since.
    private func closeCover() {
        cover?.journal.close()
        cover = nil
        for segment in sealing.takeCovered() {
            store.retireJournals(stream: name.rawValue, segment: segment)
        }
    }

    /// The open segment's new journal: the one prepared in the background when there is one, which is once the
    /// previous segment's journal was half full. Not when the appender opens: most streams are written in bulk, and
    /// their journals would only take spares from the pools.
    private func openJournal() throws(StreamStorageError) -> JournalWriter {
        guard let ready = prepared, ready.segment == segment else {
            prepared?.discard()
            prepared = nil
            return try JournalWriter.create(store: store, stream: name.rawValue, segment: segment)
        }
        prepared = nil
        do {
            return try ready.take()
        } catch {
            // Tried again here, where a failure reaches the caller.
            return try JournalWriter.create(store: store, stream: name.rawValue, segment: segment)
        }
    }

    private func flushSealedSegments() throws(StreamStorageError) {
        let (written, failure) = sealing.waitForAll()
        unflushed += written
        if let failure { throw failure }
        var taken: [SealTracker.SealedSegment] = []
        swap(&taken, &unflushed)
        try store.makeDurable(written: taken, stream: name.rawValue)
        for sealed in taken {
            store.retireJournals(stream: name.rawValue, segment: sealed.segment)
        }
    }

    /// Makes what recovery found durable, discards torn writes, repairs damaged shards in the verified window, and
    /// makes every journal copy whole. The flush comes first: the previous writer may have died between writing and
    /// flushing, and only after the flush may the journals those segments replace be removed.
    ///
    /// When the scan did not see every member (some are absent; at most m − 1, or the appender was refused), nothing
    /// is removed or repaired: torn shards stay until the segment is written again over them, stale and prepared
    /// journals until a recovery that sees every member. The journal is continued on the members present, started
    /// again under a new salt when a member of its placement is absent or missed writes (``JournalWriter``).
    private func repair(after state: StreamRecovery, tail: [UInt8]) throws(StreamStorageError) {
        let stream = name.rawValue
        let verified = Array(state.damagedShards.keys)
        let open = state.committed
        let absent = Set(state.absentMembers.map(\.index))
        try store.flushExisting(
            { layout in verified.map { layout.shard(stream, segment: $0) } + [layout.journal(stream, segment: open)] },
            stream: stream, absent: absent)
        if state.sawEveryMember {
            for torn in state.tornSegments {
                try store.removeShards(stream: name.rawValue, segment: torn)
            }
            for stale in state.staleJournals {
                try store.removeJournals(stream: name.rawValue, segment: stale)
            }
            for unused in state.preparedJournals {
                store.retireJournals(stream: name.rawValue, segment: unused)
            }
            for (segment, damaged) in state.damagedShards where !damaged.isEmpty {
                let (shards, header) = store.readShards(
                    stream: name.rawValue, segment: segment, distrusted: state.distrusted)
                if let header, shards.compactMap({ $0 }).count >= store.geometry.dataShards {
                    _ = try store.repairShards(stream: name.rawValue, segment: segment, shards: shards, header: header)
                }
            }
        }
        if let longest = state.journal.first {
            journal = try JournalWriter.resume(
                store: store, stream: name.rawValue, segment: segment, from: longest, copies: state.journal,
                tail: tail, absent: absent, distrusted: state.distrusted)
        }
    }

    /// Takes the stream's lock on every member present now, without waiting; throws `streamBusy` when another
    /// appender (or a scrub or rebuild, see ``ErasureCodedStore/lockForMaintenance(_:)``) holds it on any of them.
    /// Two processes may see different members absent (one saw a disk go, the other not yet), but at most m − 1
    /// each, so the members both lock overlap.
    static func acquireLock(store: ErasureCodedStore, stream: String) throws(StreamStorageError) -> [FileDescriptor] {
        let absent = Set(store.absentMembers().map(\.index))
        let present = store.members.keys.filter { !absent.contains($0) }.sorted()
        guard !present.isEmpty else { throw .unavailable("the array has no members present") }
        var taken: [FileDescriptor] = []
        for member in present {
            do {
                taken.append(try lockOne(store: store, member: member, stream: stream))
            } catch {
                for descriptor in taken { FileSystemCalls.release(descriptor) }
                throw error
            }
        }
        return taken
    }

    private static func lockOne(
        store: ErasureCodedStore, member: Int, stream: String
    ) throws(StreamStorageError) -> FileDescriptor {
        let layout = try store.requireLayout(member)
        let path = layout.lock(stream)
        do {
            try layout.createStreamDirectory(stream)
            let descriptor = try FileSystemCalls.open(
                path, .readWrite, options: [.create, .closeOnExec], permissions: [.ownerReadWrite])
            guard try FileSystemCalls.lockExclusivelyWithoutWaiting(descriptor) else {
                FileSystemCalls.release(descriptor)
                throw StreamStorageError.streamBusy(try! StreamName(stream))
            }
            return descriptor
        } catch let error as StreamStorageError {
            throw error
        } catch {
            store.reportMemberError(member, path: path, error, "lock")
            throw .memberIO("locking", path: path.string, error: error)
        }
    }
}
