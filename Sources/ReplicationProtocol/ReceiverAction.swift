import HashChain
import NIOCore
import StreamStore

/// What the shell around ``ReceiverStateMachine`` must do after an event, in this order: send the frames,
/// start the storage operation, change reading, close. Equatable, so that tests read as events and the actions
/// expected of them.
public struct ReceiverAction: Equatable {
    /// Frames to write to the client, each flushed.
    public var frames: [Frame]
    /// A storage operation to start; its completion is the next event.
    public var storage: StorageOperation?
    /// Whether to stop or restart reading from the client (backpressure).
    public var reading: ReadingChange?
    /// Whether to close the connection after writing the frames.
    public var close: Bool
    /// A receipt to sign (off the event loop), then tell ``ReceiverStateMachine/receiptSigned(_:)``, or
    /// ``ReceiverStateMachine/receiptSigningFailed(_:)`` if signing fails.
    public var receipt: ReceiptRequest?
    /// Call ``ReceiverStateMachine/flushTimerFired()`` after this long (at most one such timer is pending).
    public var armFlushTimer: Duration?
    /// The stream is open for append: accept frames of up to ``ProtocolLimits/maximumBodyLength`` from now on
    /// (before, at most ``ProtocolLimits/maximumControlBodyLength``).
    public var acceptDataFrames = false

    /// Creates an action.
    public init(
        frames: [Frame] = [], storage: StorageOperation? = nil, reading: ReadingChange? = nil, close: Bool = false
    ) {
        self.frames = frames
        self.storage = storage
        self.reading = reading
        self.close = close
    }

    /// Nothing to do.
    public static var none: ReceiverAction { ReceiverAction() }
}

/// What a receipt must state: the stream, and its durable length and head.
public struct ReceiptRequest: Equatable, Sendable {
    public var stream: StreamName
    public var durableLength: UInt64
    public var head: ChainHead

    public init(stream: StreamName, durableLength: UInt64, head: ChainHead) {
        self.stream = stream
        self.durableLength = durableLength
        self.head = head
    }
}

/// A storage operation the shell runs off the event loop.
public enum StorageOperation: Equatable, Sendable {
    /// Open the stream for `intent`; answer with `streamOpened` or `storageFailed`.
    case open(StreamName, Hello.Intent)
    /// Append the buffers in order, then make durable what `flush` asks for; answer with `appendCompleted` (the
    /// durable length) or `storageFailed`.
    case append([ByteBuffer], flush: FlushDemand)
    /// Read `count` bytes at `offset`; answer with `readCompleted` or `storageFailed`.
    case read(offset: UInt64, count: Int)
    /// Summarise the next page of a listing: the first `limit` streams after `after` (from the first when nil) that
    /// ``ReceiverStateMachine/listingIncludes(_:prefix:readable:)`` admits for `prefix` and the peer's `readable`
    /// prefixes; answer with `listPageCompleted` or `storageFailed`.
    case list(prefix: String, readable: [String], after: StreamName?, limit: Int)
    /// Close the stream's appender or reader; no answer.
    case release
}

/// What an append makes durable.
public enum FlushDemand: Sendable, Equatable {
    /// Nothing: more data follows at once.
    case none
    /// At least everything up to storage's last natural boundary (for the erasure-coded store, the last full
    /// segment): the flush is for volume, while data keeps coming, so bytes past the boundary wait for the next
    /// flush instead of being journaled now and written again in their segment later.
    case toBoundary
    /// Everything appended: the sender is waiting (the queue ran dry, or it asked for a sync), or the session ends.
    case everything
}

/// A change to whether the shell reads from the client.
public enum ReadingChange: Equatable {
    /// Stop asking the socket for more bytes.
    case pause
    /// Ask again.
    case resume
}

extension Frame {
    /// The frame's name, for messages.
    public var kind: String {
        switch self {
        case .hello: return "hello"
        case .ready: return "ready"
        case .data: return "data"
        case .sync: return "sync"
        case .acknowledgement: return "acknowledgement"
        case .error: return "error"
        case .readRange: return "read-range"
        case .end: return "end"
        case .receiptRequest: return "receipt-request"
        case .receipt: return "receipt"
        case .listing: return "listing"
        }
    }
}
