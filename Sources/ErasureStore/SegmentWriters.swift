import DurableFiles
import Foundation
import StoreFormat
import StreamStore
import SystemPackage

/// Seals full segments and writes their shard files on background threads that all appenders of a store share, so
/// an appender's thread goes on copying and hashing the next segment meanwhile: on two cores the two halves of
/// the work overlap instead of adding up.
///
/// Memory stays bounded whatever the number of streams: at most ``queueCapacity`` segments wait (a submitter
/// blocks beyond that, which is the backpressure), each worker holds one stripe and, while sealing, one segment,
/// and one spare segment buffer is kept for reuse. Threads rather than the concurrency pool, because a worker
/// blocks in the kernel on its writes; a worker with nothing to do for a second ends, so a quiet store holds no
/// threads and no stripes.
final class SegmentWriters: @unchecked Sendable {
    // @unchecked: `condition` guards every var.

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

    let workerLimit: Int
    /// One waiting segment lets the appender fill the next while the writers work; more would only hold memory.
    let queueCapacity = 1
    private let segmentBytes: Int
    private let condition = NSCondition()
    private var queue: [Job] = []
    private var workers = 0
    private var idleWorkers = 0
    private var spareBuffers: [[UInt8]] = []

    init(geometry: ArrayGeometry, workerLimit: Int = max(2, ProcessInfo.processInfo.activeProcessorCount)) {
        self.workerLimit = max(1, workerLimit)
        segmentBytes = geometry.segmentBytes
    }

    /// Queues a segment, blocking while the queue is full.
    func submit(_ job: Job) {
        condition.lock()
        while queue.count >= queueCapacity { condition.wait() }
        job.tracker.started(background: job.coveredByJournal)
        queue.append(job)
        let startsWorker = queue.count > idleWorkers && workers < workerLimit
        if startsWorker { workers += 1 }
        condition.broadcast()
        condition.unlock()
        if startsWorker {
            Thread.detachNewThread { self.work() }
        }
    }

    /// An empty buffer with room for a whole segment, reused when one is spare.
    func takeBuffer() -> [UInt8] {
        if let spare = condition.withLock({ spareBuffers.popLast() }) { return spare }
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
        condition.withLock {
            if spareBuffers.isEmpty { spareBuffers.append(taken) }
        }
    }

    private func work() {
        Thread.current.name = "segment-writer"
        let stripe = AlignedStripe()
        while var job = nextJob() {
            write(&job, stripe: stripe)
        }
    }

    /// Between the pieces of a covered segment's write, which nobody waits for: a pause while no other segment is
    /// queued, so that the journal flushes of the appends that do wait are not queued behind megabytes of it (the
    /// measurements are in `docs/storage-engine.md`, write path, item 5).
    private func pauseUnlessNeeded() {
        guard condition.withLock({ queue.isEmpty }) else { return }
        usleep(Self.pauseMicroseconds)
    }

    static let pauseMicroseconds: UInt32 = 1000

    private func nextJob() -> Job? {
        condition.lock()
        defer { condition.unlock() }
        while queue.isEmpty {
            idleWorkers += 1
            let woken = condition.wait(until: Date(timeIntervalSinceNow: 1))
            idleWorkers -= 1
            if !woken && queue.isEmpty {
                workers -= 1
                return nil
            }
        }
        let job = queue.removeFirst()
        condition.broadcast()  // a submitter may wait for room
        return job
    }

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
            // Each shard file is created over whatever held its name: checked for all of them before the first.
            try store.requireEveryMemberPresent(before: "to write segment \(job.segment) of \(job.stream)")
            for index in 0..<store.geometry.shardsPerSegment {
                let member = store.placement.member(ofShard: index, segment: job.segment, stream: job.stream)
                let descriptor = try store.createFile(
                    member: member, path: { $0.shard(job.stream, segment: job.segment) }, stream: job.stream,
                    directIO: directIO)
                files.append((member, descriptor))
                try store.writeShard(
                    header: header, stripe: UnsafeRawBufferPointer(stripe), index: index, to: descriptor,
                    member: member, segment: job.segment, pause: pause)
                // Buffered, the disk starts on this shard now, and the flush that makes it durable later finds little
                // to wait for; written directly, it is on its way already.
                FileSystemCalls.startWriteback(descriptor)
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
            for file in files { try? file.descriptor.close() }
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
final class SealTracker: @unchecked Sendable {
    // @unchecked: `condition` guards every var.

    struct SealedSegment: Sendable {
        var segment: UInt64
        var files: [(member: Int, descriptor: FileDescriptor)]

        var withoutFiles: SealedSegment { SealedSegment(segment: segment, files: []) }
    }

    private let condition = NSCondition()
    private var pending = 0
    private var background = 0
    private var written: [SealedSegment] = []
    private var covered: [UInt64] = []
    private var failure: StreamStorageError?

    /// Segments submitted and not yet written, or not yet flushed if covered by their journal.
    var inFlightCount: Int { condition.withLock { pending + background } }

    /// The first failure of a write, if any.
    var firstFailure: StreamStorageError? { condition.withLock { failure } }

    func started(background inBackground: Bool) {
        condition.withLock {
            if inBackground { background += 1 } else { pending += 1 }
        }
    }

    /// A segment written in the background comes back durable, its files closed.
    func finished(_ result: Result<SealedSegment, StreamStorageError>, background inBackground: Bool) {
        condition.withLock {
            if inBackground { background -= 1 } else { pending -= 1 }
            switch result {
            case .success(let segment):
                if inBackground { covered.append(segment.segment) } else { written.append(segment) }
            case .failure(let error): if failure == nil { failure = error }
            }
            condition.broadcast()
        }
    }

    /// Takes the segments covered by their journal that are durable in their shards since the last call.
    func takeCovered() -> [UInt64] {
        condition.withLock {
            let taken = covered
            covered = []
            return taken
        }
    }

    /// Waits until every submitted segment the appender must flush is written (or failed) and takes the written
    /// ones; with `includingBackground`, until the segments covered by their journal are durable too.
    func waitForAll(includingBackground: Bool = false) -> (written: [SealedSegment], failure: StreamStorageError?) {
        condition.lock()
        defer { condition.unlock() }
        while pending > 0 || (includingBackground && background > 0) { condition.wait() }
        let taken = written
        written = []
        return (taken, failure)
    }
}

/// A writer's stripe: memory aligned for direct I/O, allocated at the first segment and kept until the writer ends.
private final class AlignedStripe {
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
