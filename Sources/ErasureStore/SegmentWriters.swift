import DurableFiles
import Foundation
import StoreFormat
import StreamStore
import SystemPackage

/// Seals full segments and writes their shard files on the store's sealing workers (``StoreExecutor``), which all
/// appenders of a store share, so an appender's thread goes on copying and hashing the next segment meanwhile: on
/// two cores the two halves of the work overlap instead of adding up.
///
/// Memory stays bounded whatever the number of streams: at most one segment waits (a submitter waits beyond that,
/// which is the backpressure), each worker holds one stripe and, while sealing, one segment, and one spare segment
/// buffer is kept for reuse. A quiet store holds no workers and so no stripes.
final class SegmentWriters: Sendable {
    /// A full segment on its way to the members.
    struct Job: Sendable {
        var store: ErasureCodedStore
        var plaintext: [UInt8]
        var template: ShardHeader
        var stream: String
        var segment: UInt64
        var tracker: SealTracker
        /// The segment's bytes are all in its journal, so nobody waits for this write: the writer flushes the shard
        /// files itself, and the appender retires the journal once told (``SealTracker/takeCovered()``).
        var coveredByJournal = false
    }

    private let lane: WorkerLane<AlignedStripe>
    private let segmentBytes: Int
    private let spareBuffers = Guarded<[[UInt8]]>([])

    init(geometry: ArrayGeometry, lane: WorkerLane<AlignedStripe>) {
        self.lane = lane
        segmentBytes = geometry.segmentBytes
    }

    /// Queues a segment, waiting while the queue is full.
    func submit(_ job: consuming Job) {
        job.tracker.started(background: job.coveredByJournal)
        // Taken (consuming) and handed over through a lock, so that the worker holds the segment's only reference: a
        // copy left with the caller or in the closure would make recycling its buffer allocate a new one (8 MiB of
        // fresh pages per segment, and as much resident memory again).
        let handover = Guarded<Job?>(consume job)
        lane.submit { stripe in
            guard var job = handover.withLock({ held in Self.take(&held) }) else { return }
            self.write(&job, stripe: stripe)
        }
    }

    private static func take(_ held: inout Job?) -> Job? {
        var taken: Job?
        swap(&taken, &held)
        return taken
    }

    /// An empty buffer with room for a whole segment, reused when one is spare.
    func takeBuffer() -> [UInt8] {
        if let spare = spareBuffers.withLock({ $0.popLast() }) { return spare }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(segmentBytes)
        return buffer
    }

    /// Takes `buffer` (leaving it empty) and keeps it for a later ``takeBuffer()``, or frees it when enough are
    /// spare.
    func recycle(_ buffer: inout [UInt8]) {
        var taken: [UInt8] = []
        swap(&taken, &buffer)
        guard taken.capacity >= segmentBytes else { return }
        // Uniquely held now, so emptied in place, keeping its memory.
        taken.removeAll(keepingCapacity: true)
        spareBuffers.withLock { spares in
            if spares.isEmpty { spares.append(taken) }
        }
    }

    /// Between the pieces of a covered segment's write, which nobody waits for: a pause while no other segment is
    /// queued, so that the journal flushes of the appends that do wait are not queued behind megabytes of it (the
    /// measurements are in `docs/storage-engine.md`, write path, item 5).
    private func pauseUnlessNeeded() {
        guard lane.isQueueEmpty else { return }
        Thread.sleep(forTimeInterval: Self.pauseSeconds)
    }

    static let pauseSeconds = 0.001

    private func write(_ job: inout Job, stripe: AlignedStripe) {
        let store = job.store
        let codec = store.codec
        let directIO = codec.layout.allowsDirectIO
        let stripe = stripe.bytes(codec.stripeBytes)
        var files: [(member: Int, descriptor: FileDescriptor)] = []
        do {
            let header: ShardHeader
            do {
                header = try job.plaintext.withUnsafeBytes { plaintext in
                    try codec.seal(
                        plaintext, into: stripe, template: job.template, publicKey: store.keys.storagePublicKey)
                }
            } catch {
                throw StreamStorageError.configuration(
                    "sealing segment \(job.segment) of \(job.stream) failed: \(error)")
            }
            // The stripe holds everything now; the plaintext's buffer can take the next segment of any stream.
            recycle(&job.plaintext)
            let pause: (() -> Void)? = job.coveredByJournal ? { self.pauseUnlessNeeded() } : nil
            // Written to the members present (at least k + 1 of the stripe: see requireWriteQuorum, which has the
            // present members record that the absent ones miss it); each shard file is created over whatever held
            // its name there, which recovery decided was not a committed segment.
            let what = "to write segment \(job.segment) of \(job.stream)"
            let absent = try store.requireWriteQuorum(before: what)
            for index in 0..<store.geometry.shardsPerSegment {
                let member = store.placement.member(ofShard: index, segment: job.segment, stream: job.stream)
                guard !absent.contains(member) else { continue }
                var created: FileDescriptor?
                do throws(StreamStorageError) {
                    let descriptor = try store.createFile(
                        member: member, path: { $0.shard(job.stream, segment: job.segment) }, stream: job.stream,
                        directIO: directIO)
                    created = descriptor
                    try store.writeShard(
                        header: header, stripe: UnsafeRawBufferPointer(stripe), index: index, to: descriptor,
                        member: member, segment: job.segment, pause: pause)
                } catch {
                    // A member that vanished under the write is left out; anything else fails the segment.
                    if let created { FileSystemCalls.release(created) }
                    try store.dropVanished(member, after: error, what: what)
                    continue
                }
                files.append((member, created!))
                // Buffered, the disk starts on this shard now, and the flush that makes it durable later finds little
                // to wait for; written directly, it is on its way already.
                FileSystemCalls.startWriteback(created!)
            }
            let sealed = SealTracker.SealedSegment(segment: job.segment, files: files)
            files = []
            if job.coveredByJournal {
                try store.makeDurable(written: [sealed], stream: job.stream)
                job.tracker.finished(.success(sealed.withoutFiles), background: true)
            } else {
                job.tracker.finished(.success(sealed), background: false)
            }
        } catch {
            for file in files { FileSystemCalls.release(file.descriptor) }
            let failure =
                error as? StreamStorageError
                ?? StreamStorageError(kind: .io, message: "writing segment \(job.segment) failed: \(error)")
            job.tracker.finished(.failure(failure), background: job.coveredByJournal)
        }
    }
}

/// The segments one appender has handed to the ``SegmentWriters``: how many are still being written, those written
/// (their files open, not yet flushed), and the first failure. Segments covered by their journal are written and
/// flushed in the background: the appender waits for them only when it closes or has too many in flight.
final class SealTracker: Sendable {
    struct SealedSegment: Sendable {
        var segment: UInt64
        var files: [(member: Int, descriptor: FileDescriptor)]

        var withoutFiles: SealedSegment { SealedSegment(segment: segment, files: []) }
    }

    private struct State {
        var pending = 0
        var background = 0
        var written: [SealedSegment] = []
        var covered: [UInt64] = []
        var failure: StreamStorageError?
        /// Set when the appender was dropped without closing: what comes back is closed at once, and the stream's
        /// lock is released by the last write to finish.
        var abandonedLock: [FileDescriptor] = []
        var abandoned = false

        var inFlight: Int { pending + background }

        /// The stream's lock, once an abandoned appender's last write has ended.
        mutating func releasedLock() -> [FileDescriptor] {
            guard abandoned, inFlight == 0 else { return [] }
            defer { abandonedLock = [] }
            return abandonedLock
        }
    }

    private let state = Guarded(State())

    /// Segments submitted and not yet written, or not yet flushed if covered by their journal.
    var inFlightCount: Int { state.withLock(waking: .none) { $0.inFlight } }

    /// The first failure of a write, if any.
    var firstFailure: StreamStorageError? { state.withLock(waking: .none) { $0.failure } }

    func started(background inBackground: Bool) {
        state.withLock { state in
            if inBackground { state.background += 1 } else { state.pending += 1 }
        }
    }

    /// A segment written in the background comes back durable, its files closed.
    func finished(_ result: Result<SealedSegment, StreamStorageError>, background inBackground: Bool) {
        let toClose = state.withLock { state -> [FileDescriptor] in
            if inBackground { state.background -= 1 } else { state.pending -= 1 }
            switch result {
            case .success(let segment):
                if inBackground {
                    state.covered.append(segment.segment)
                } else if state.abandoned {
                    return segment.files.map(\.descriptor) + state.releasedLock()
                } else {
                    state.written.append(segment)
                }
            case .failure(let error): if state.failure == nil { state.failure = error }
            }
            return state.releasedLock()
        }
        // Unflushed, as a crash would leave them.
        for descriptor in toClose { FileSystemCalls.release(descriptor) }
    }

    /// Takes the segments covered by their journal that are durable in their shards since the last call.
    func takeCovered() -> [UInt64] {
        state.withLock { state in
            let taken = state.covered
            state.covered = []
            return taken
        }
    }

    /// Waits until every submitted segment the appender must flush is written (or failed) and takes the written
    /// ones; with `includingBackground`, until the segments covered by their journal are durable too.
    func waitForAll(includingBackground: Bool = false) -> (written: [SealedSegment], failure: StreamStorageError?) {
        state.wait(until: { $0.pending == 0 && (!includingBackground || $0.background == 0) }) { state, _ in
            let taken = state.written
            state.written = []
            return (taken, state.failure)
        }
    }

    /// The appender is gone without closing, and nobody waits for its writes: each is closed as it ends, unflushed,
    /// and `lock` (the stream's lock) is closed after the last, so no new appender recovers the stream while a
    /// write of the old one still runs. Returns at once.
    func abandon(releasing lock: [FileDescriptor]) {
        let toClose = state.withLock { state -> [FileDescriptor] in
            state.abandoned = true
            state.abandonedLock = lock
            let written = state.written.flatMap { $0.files.map(\.descriptor) }
            state.written = []
            return written + state.releasedLock()
        }
        // Unflushed: nothing past the last durable point was promised.
        for descriptor in toClose { FileSystemCalls.release(descriptor) }
    }
}

/// A sealing worker's stripe: memory aligned for direct I/O, allocated at its first segment and kept until the
/// worker ends.
final class AlignedStripe {
    private var memory: UnsafeMutableRawBufferPointer?

    /// The stripe, `count` bytes long.
    func bytes(_ count: Int) -> UnsafeMutableRawBufferPointer {
        if let memory, memory.count == count { return memory }
        memory?.deallocate()
        let allocated = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: ShardFileLayout.alignment)
        allocated.initializeMemory(as: UInt8.self, repeating: 0)
        memory = allocated
        return allocated
    }

    deinit { memory?.deallocate() }
}
