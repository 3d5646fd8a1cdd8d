import HashChain
import StreamStore

/// A real appender, with hooks for the faults and delays a test needs: before each flush (which may fail), and in
/// place of its close.
final class WrappedAppender: StreamAppender {
    private let appender: any StreamAppender
    private let beforeFlush: () throws(StreamStorageError) -> Void
    private let closing: (any StreamAppender) -> Void

    init(
        _ appender: any StreamAppender, beforeFlush: @escaping () throws(StreamStorageError) -> Void = {},
        closing: @escaping (any StreamAppender) -> Void = { $0.close() }
    ) {
        self.appender = appender
        self.beforeFlush = beforeFlush
        self.closing = closing
    }

    var name: StreamName { appender.name }
    var durableLength: UInt64 { appender.durableLength }
    var appendedLength: UInt64 { appender.appendedLength }
    var durableHead: ChainHead { appender.durableHead }

    func append(_ bytes: UnsafeRawBufferPointer) throws(StreamStorageError) { try appender.append(bytes) }

    func makeDurable() throws(StreamStorageError) -> UInt64 {
        try beforeFlush()
        return try appender.makeDurable()
    }

    func makeDurableToBoundary() throws(StreamStorageError) -> UInt64 {
        try beforeFlush()
        return try appender.makeDurableToBoundary()
    }

    func close() { closing(appender) }
}
