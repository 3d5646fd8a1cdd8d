import HashChain

/// Where streams live: the erasure-coded engine implements it, and tests wrap it (a store that fails on demand),
/// so the replication service never knows what it writes to.
///
/// There is deliberately no delete and no overwrite: a stream only grows.
public protocol StreamStorage: Sendable {
    /// Opens `name` for appending, creating it empty if it does not exist.
    ///
    /// At most one appender per stream exists at a time, across processes; a second one is refused with
    /// ``StreamStorageError/streamBusy(_:)``.
    func openAppender(for name: StreamName) throws(StreamStorageError) -> any StreamAppender

    /// Opens an existing stream for reading; throws ``StreamStorageError/unknownStream(_:)`` if there is none.
    func openReader(for name: StreamName) throws(StreamStorageError) -> any StreamReader

    /// One page of a listing: the summaries of the first `limit` streams, in name order, whose names come after
    /// `after` (from the first when nil) and that `include` admits.
    ///
    /// However many streams the store holds, an implementation keeps about `limit` names in memory: a caller lists
    /// everything by asking again after the last name of each page, until a page is shorter than `limit`. A stream
    /// that cannot be opened is summarised with ``StreamSummary/isReadable`` false rather than failing the page.
    func summaries(
        after: StreamName?, limit: Int, where include: (StreamName) -> Bool
    ) throws(StreamStorageError) -> [StreamSummary]
}

/// The one writer of a stream. Not thread-safe: its owner serialises calls.
public protocol StreamAppender: AnyObject {
    /// The stream this appender writes.
    var name: StreamName { get }

    /// Bytes that have survived a ``makeDurable()`` (or were durable when the stream was opened).
    var durableLength: UInt64 { get }

    /// Bytes appended so far, durable or not.
    var appendedLength: UInt64 { get }

    /// The stream's hash-chain head (`docs/hash-chain.md`) at ``durableLength``.
    var durableHead: ChainHead { get }

    /// Appends `bytes` after everything appended so far. They are not durable until ``makeDurable()`` returns.
    func append(_ bytes: UnsafeRawBufferPointer) throws(StreamStorageError)

    /// Makes everything appended so far survive a power cut; returns the new durable length.
    func makeDurable() throws(StreamStorageError) -> UInt64

    /// Makes at least everything up to the store's last natural boundary survive a power cut (everything, if none
    /// was passed since the last durable point); returns the new durable length. For a writer that flushes for
    /// volume while more bytes follow at once: bytes past the boundary can wait for the next flush, where a store
    /// would otherwise have to write them twice. The default makes everything durable.
    func makeDurableToBoundary() throws(StreamStorageError) -> UInt64

    /// Releases the stream for another appender. Bytes not made durable may or may not survive.
    func close()
}

extension StreamAppender {
    public func makeDurableToBoundary() throws(StreamStorageError) -> UInt64 {
        try makeDurable()
    }
}

/// Reads a stream's bytes back. Not thread-safe: its owner serialises calls.
public protocol StreamReader: AnyObject {
    /// The stream this reader reads.
    var name: StreamName { get }

    /// The stream's length when the reader was opened; reads beyond it are refused.
    var length: UInt64 { get }

    /// The stream's hash-chain head at ``length``.
    var head: ChainHead { get }

    /// Reads up to `buffer.count` bytes at `offset` into `buffer`; returns how many were read (0 only at the end).
    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(StreamStorageError) -> Int

    /// Releases the reader's resources.
    func close()
}
