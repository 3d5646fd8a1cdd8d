import CryptoPrimitives
import DurableFiles
import HashChain
import StreamStore
import SystemPackage

/// The one writer of a stream in an ``ErasureCodedStore``.
///
/// Bytes collect in the open segment's buffer, hashed into the chain as they come. A full segment goes to the
/// store's ``SegmentWriters``, which seal it and write its shard files in the background, without a flush, while
/// the next segment fills; ``makeDurable()`` waits for those writes, flushes every written segment, and journals
/// the part of the open segment not yet journaled on m + 1 members, then flushes those. So bulk data is written
/// once, erasure-coded, and a small append costs one journal record on m + 1 members, not a stripe.
final class ErasureStreamAppender: StreamAppender {
    let name: StreamName
    private let store: ErasureCodedStore
    private let lock: FileDescriptor
    private(set) var durableLength: UInt64
    private(set) var appendedLength: UInt64
    private var segment: UInt64
    private var buffer: [UInt8]
    private var journaledBytes: Int
    private var chain: StreamHashChain
    private var journal: JournalWriter?
    /// Segments written by the writers and not yet flushed.
    private var unflushed: [SealTracker.SealedSegment] = []
    private let sealing = SealTracker()
    private var failure: StreamStorageError?
    private var closed = false
    /// The chain head at the end of the last segment handed to the writers.
    private var lastSealedHead: [UInt8] = []

    init(store: ErasureCodedStore, stream: StreamName) throws(StreamStorageError) {
        self.store = store
        name = stream
        lock = try Self.acquireLock(store: store, stream: stream.rawValue)
        do {
            let state = try StreamRecovery.scan(store, stream: stream.rawValue)
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
            try repair(after: state)
        } catch {
            try? lock.close()
            throw error
        }
    }

    deinit {
        close()
    }

    private(set) var durableHead: [UInt8]

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
                if unflushed.count + sealing.pendingCount >= store.unflushedSegmentLimit {
                    _ = try makeDurable()
                }
                if !remaining.isEmpty { buffer = store.writers.takeBuffer() }
            }
        }
    }

    func makeDurable() throws(StreamStorageError) -> UInt64 {
        try checkUsable()
        try failing { () throws(StreamStorageError) in
            try flushSealedSegments()
            if buffer.count > journaledBytes {
                if journal == nil {
                    journal = try JournalWriter.create(store: store, stream: name.rawValue, segment: segment)
                }
                try withBytes(of: buffer) { bytes throws(StreamStorageError) in
                    try journal!.append(
                        UnsafeRawBufferPointer(rebasing: bytes[journaledBytes...]),
                        at: segment * UInt64(store.geometry.segmentBytes) + UInt64(journaledBytes))
                }
                journaledBytes = buffer.count
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
        try failing { () throws(StreamStorageError) in try flushSealedSegments() }
        durableLength = boundary
        durableHead = lastSealedHead
        return durableLength
    }

    func close() {
        guard !closed else { return }
        closed = true
        // The writers may still hold segments of this stream; their files are closed here, unflushed, as a crash
        // would leave them: nothing past the last makeDurable was acknowledged.
        unflushed += sealing.waitForAll().written
        store.writers.recycle(&buffer)
        for sealed in unflushed {
            for file in sealed.files { try? file.descriptor.close() }
        }
        unflushed = []
        journal?.close()
        journal = nil
        try? lock.close()
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
        let template = ShardHeader(
            arrayID: store.arrayID, stream: name.rawValue, segment: segment, shardIndex: 0,
            dataShards: geometry.dataShards, parityShards: geometry.parityShards, shardBytes: geometry.shardBytes,
            blockBytes: geometry.blockBytes, streamOffset: segment * UInt64(geometry.segmentBytes),
            chainHead: chain.chunkBoundaryHead, encapsulatedKey: [], wrappedKey: [], dataTag: [])
        precondition(chain.length == (segment + 1) * UInt64(geometry.segmentBytes), "segments end on chunk boundaries")
        lastSealedHead = template.chainHead
        var full: [UInt8] = []
        swap(&full, &buffer)
        store.writers.submit(
            SegmentWriters.Job(
                store: store, plaintext: full, template: template, stream: name.rawValue, segment: segment,
                tracker: sealing))
        segment += 1
        journaledBytes = 0
        // The old journal stays on the members until its segment is flushed; only then is it stale.
        journal?.close()
        journal = nil
    }

    private func flushSealedSegments() throws(StreamStorageError) {
        let (written, failure) = sealing.waitForAll()
        unflushed += written
        if let failure { throw failure }
        guard !unflushed.isEmpty else { return }
        // One thread per member flushes that member's files, then its directory.
        var byMember: [Int: [(FileDescriptor, UInt64)]] = [:]
        for sealed in unflushed {
            for file in sealed.files { byMember[file.member, default: []].append((file.descriptor, sealed.segment)) }
        }
        let store = self.store
        let stream = name.rawValue
        try ParallelFlush.run(
            byMember.map { member, files in
                { () throws in
                    for (descriptor, segment) in files {
                        try store.flush(descriptor, member: member, what: "segment \(segment)")
                    }
                    try store.flushDirectory(member: member, stream: stream)
                }
            })
        let folded = unflushed.map(\.segment)
        for sealed in unflushed {
            for file in sealed.files { try? file.descriptor.close() }
        }
        unflushed = []
        // The segments are durable: their journals are stale now. Recovery ignores stale journals, so removing them
        // needs no flush, and a failure to remove one loses nothing.
        for folded in folded {
            store.removeJournals(stream: name.rawValue, segment: folded)
        }
    }

    /// Makes what recovery found durable, discards torn writes, repairs damaged shards in the verified window, and
    /// makes every journal copy whole. The flush comes first: the previous writer may have died between writing and
    /// flushing, and only after the flush may the journals those segments replace be removed.
    private func repair(after state: StreamRecovery) throws(StreamStorageError) {
        let stream = name.rawValue
        let verified = Array(state.window.segments.keys)
        let open = state.committed
        try store.flushExisting(
            { layout in verified.map { layout.shard(stream, segment: $0) } + [layout.journal(stream, segment: open)] },
            stream: stream)
        for torn in state.tornSegments {
            store.removeShards(stream: name.rawValue, segment: torn)
        }
        for stale in state.staleJournals {
            store.removeJournals(stream: name.rawValue, segment: stale)
        }
        for (segment, shards) in state.window.segments where shards.contains(where: { $0 == nil }) {
            if let header = state.window.headers[segment] {
                _ = try store.repairShards(stream: name.rawValue, segment: segment, shards: shards, header: header)
            }
        }
        if let longest = state.journal.first {
            journal = try JournalWriter.resume(
                store: store, stream: name.rawValue, segment: segment, from: longest, copies: state.journal)
        }
    }

    private static func acquireLock(
        store: ErasureCodedStore, stream: String
    ) throws(StreamStorageError)
        -> FileDescriptor
    {
        guard let member = store.members.keys.min() else { throw .unavailable("the array has no members") }
        let layout = try store.requireLayout(member)
        let path = layout.lock(stream)
        do {
            try layout.createStreamDirectory(stream)
            let descriptor = try FileDescriptor.open(
                path, .readWrite, options: [.create, .closeOnExec], permissions: [.ownerReadWrite])
            guard try FileSystemCalls.lockExclusivelyWithoutWaiting(descriptor) else {
                try? descriptor.close()
                throw StreamStorageError.streamBusy(try! StreamName(stream))
            }
            return descriptor
        } catch let error as StreamStorageError {
            throw error
        } catch {
            throw .io("locking", path: path.string, error: error)
        }
    }
}
