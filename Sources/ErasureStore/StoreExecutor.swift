import Foundation

/// Every thread an ``ErasureCodedStore`` runs besides its callers' own, in four lanes (``WorkerLane``).
///
/// ```
///  callers (appenders, readers, a rebuild)
///     │ submit a full segment (waits while one is queued)      │ runAll: flushes, journal copies, retirements
///     ▼                                                        ▼
///  sealing: ≤ max(2, cores) workers, queue of 1 ──runAll──▶ io: ≤ 64 workers, leaves: one syscall sequence each
///     ▲                                                        ▲
///  background: ≤ 8 workers ────────────────────────runAll─────┘
///     (a stream's next journal, a member's spare journals, a rebuild's second reader)
///
///  reading: ≤ max(2, cores) workers: the segments after a reader's current one, read, checked and decrypted
/// ```
///
/// Who waits for whom: callers wait for sealing (room in its queue; their segments' writes), background (a
/// prepared journal) and reading (the segment they read next); sealing and background jobs wait for io jobs; io
/// jobs wait for nothing but the kernel. The waits go one way, so no lane can wait for itself, however full: that
/// is why an io job never submits a job.
///
/// The queues are bounded: sealing's by its capacity of one segment (a submitter waits beyond it); io's by the
/// threads that wait in ``WorkerLane/runAll(_:)`` for their jobs, each with at most one job per member; background's
/// by one prepared journal per appender, one refill per member and a rebuild's readers; reading's by
/// ``ErasureStreamReader/readAhead`` segments per reader, and ``readAheadSegments`` over all readers.
final class StoreExecutor: Sendable {
    /// Seals full segments and writes their shards (``SegmentWriters``), each worker with its own aligned stripe.
    let sealing: WorkerLane<AlignedStripe>
    /// Blocking I/O on one member each: a flush, a journal copy's write, a retirement. Wide, because such jobs wait
    /// on the disk, not a core, and flushes on different members cost about one when they run side by side.
    let io = WorkerLane<Void>(name: "io", workerLimit: 64)
    /// Work that may wait for io: journals prepared ahead, spare journals, a rebuild's readers.
    let background = WorkerLane<Void>(name: "background", workerLimit: 8)
    /// Segments decoded ahead of their readers (``ErasureStreamReader``), each worker with a shard file's buffer.
    /// Such a job reads and decrypts; it waits for no lane.
    let reading: WorkerLane<ReadScratch>

    /// Segments decoded ahead of their readers, over every reader of the store: each holds a segment's memory, so
    /// their number is bounded here, not per reader (sixteen restores would otherwise hold three segments each).
    /// Two keep one restore's decodes ahead of it; several restores at once keep both cores busy without them.
    static let readAheadSegments = 2
    private let readAheadPermits = Guarded(StoreExecutor.readAheadSegments)

    init(sealingWorkers: Int = max(2, ProcessInfo.processInfo.activeProcessorCount)) {
        sealing = WorkerLane(name: "sealing", workerLimit: sealingWorkers, queueCapacity: 1) { AlignedStripe() }
        reading = WorkerLane(name: "reading", workerLimit: sealingWorkers) { ReadScratch() }
    }

    /// Segment buffers of finished reads, kept for the next decode ahead (at most ``readAheadSegments``): a fresh
    /// 8 MiB buffer costs its zeroing and two thousand page faults, about a tenth of a core at a restore's rate.
    private let decodeBuffers = Guarded<[[UInt8]]>([])

    /// A spare segment buffer for a decode, or an empty one.
    func takeDecodeBuffer() -> [UInt8] {
        decodeBuffers.withLock(waking: .none) { $0.popLast() } ?? []
    }

    /// Keeps `buffer` (leaving it empty) for a later ``takeDecodeBuffer()``, or frees it when enough are kept.
    func recycleDecodeBuffer(_ buffer: inout [UInt8]) {
        var taken: [UInt8] = []
        swap(&taken, &buffer)
        guard !taken.isEmpty else { return }
        decodeBuffers.withLock(waking: .none) { spares in
            if spares.count < Self.readAheadSegments { spares.append(taken) }
        }
    }

    /// Takes a permit to decode one segment ahead of a reader; false when all are taken.
    func takeReadAheadPermit() -> Bool {
        readAheadPermits.withLock { permits in
            guard permits > 0 else { return false }
            permits -= 1
            return true
        }
    }

    /// Gives back a permit once the decode it allowed has ended and its reader no longer waits for it.
    func returnReadAheadPermit() {
        readAheadPermits.withLock { $0 += 1 }
    }

    /// The workers of every lane running now.
    var workerCount: Int { sealing.workerCount + io.workerCount + background.workerCount + reading.workerCount }

    /// Lets every lane finish what is queued, and returns once no worker is left.
    func shutdown() {
        sealing.shutdown()
        background.shutdown()
        reading.shutdown()
        io.shutdown()
    }
}
