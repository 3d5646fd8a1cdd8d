import StoreFormat

/// The bookkeeping of a rebuild's writes: which rebuilt shard files are written but not yet flushed, when to flush
/// them, and how many bytes are durable. Pure: the shell (``RebuildWriter``) does the I/O it asks for.
///
/// Rebuilt shards are written without a flush each: the shard was missing or damaged anyway, and a torn rewrite
/// fails its header checksum, its length or a block's CRC, so readers, scrub and a resumed rebuild treat it as
/// missing again. A flush of the written files and their directories every ``limitBytes`` (or ``limitFiles``
/// files) and at the end makes them durable in bulk; only then do they count as rebuilt in the progress.
///
/// Several threads write; a full batch is handed whole to the one whose write filled it, so two batches may be
/// flushed at once, and each counts when its own flush is done.
struct RebuildBatch<File> {
    /// Flush once this many shard bytes are written and not yet flushed.
    let limitBytes: Int
    /// Flush once this many files are written and not yet flushed (each holds a descriptor until then).
    let limitFiles: Int

    private var pending: [File] = []
    private var pendingBytes = 0
    /// Shard bytes written and flushed.
    private(set) var flushedBytes = 0

    init(limitBytes: Int = 64 << 20, limitFiles: Int = 64) {
        self.limitBytes = max(1, limitBytes)
        self.limitFiles = max(1, limitFiles)
    }

    /// What the writer that reported an event does next.
    enum Action {
        /// Nothing: keep writing.
        case none
        /// Flush these files (`bytes` of shards), and their directories, then report ``flushed(bytes:)``.
        case flush([File], bytes: Int)
    }

    /// A rebuilt shard file of `bytes` was written (not flushed).
    mutating func written(_ file: File, bytes: Int) -> Action {
        pending.append(file)
        pendingBytes += bytes
        guard pendingBytes >= limitBytes || pending.count >= limitFiles else { return .none }
        return takePending()
    }

    /// Every segment is examined: whatever is pending must be flushed before the rebuild reports.
    mutating func finishing() -> Action {
        pending.isEmpty ? .none : takePending()
    }

    /// A flush that ``written(_:bytes:)`` or ``finishing()`` asked for succeeded: its bytes are durable.
    mutating func flushed(bytes: Int) {
        flushedBytes += bytes
    }

    private mutating func takePending() -> Action {
        defer {
            pending = []
            pendingBytes = 0
        }
        return .flush(pending, bytes: pendingBytes)
    }
}

extension RebuildBatch.Action: Equatable where File: Equatable {}
