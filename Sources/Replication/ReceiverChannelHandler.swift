import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ReplicationProtocol
import StreamStore

/// Asks a receiver connection to finish what it has taken and close; sent down the pipeline at shutdown.
public struct ReceiverShutdownEvent: Sendable {
    /// Creates the event.
    public init() {}
}

/// The shell around ``ReceiverStateMachine``: it turns channel callbacks into events and executes the actions.
/// Storage runs on a thread pool so that `fdatasync` never blocks the event loop.
final class ReceiverChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = Frame
    typealias OutboundIn = Frame
    typealias OutboundOut = Frame

    private var state: ReceiverStateMachine
    private let storage: any StreamStorage
    private let threadPool: NIOThreadPool
    private let session = StorageSession()
    private let logger: Logger
    private var readingPaused = false
    private var readRequestedWhilePaused = false

    init(storage: any StreamStorage, threadPool: NIOThreadPool, limits: ReceiverStateMachine.Limits, logger: Logger) {
        self.state = ReceiverStateMachine(limits: limits)
        self.storage = storage
        self.threadPool = threadPool
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        run(state.frameReceived(unwrapInboundIn(data)), context: context)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        run(state.writabilityChanged(isWritable: context.channel.isWritable), context: context)
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        run(state.connectionClosed(), context: context)
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ReceiverShutdownEvent {
            run(state.shutdownRequested(), context: context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let frameError = error as? FrameError {
            logger.warning("malformed frame from sender", metadata: ["error": "\(frameError)"])
            run(state.decodingFailed(frameError), context: context)
        } else {
            // TLS failures (unknown CA, truncation) and socket errors: there is no one left to tell.
            logger.notice("replication connection failed", metadata: ["error": "\(error)"])
            context.close(promise: nil)
        }
    }

    func read(context: ChannelHandlerContext) {
        if readingPaused {
            readRequestedWhilePaused = true
        } else {
            context.read()
        }
    }

    private func run(_ action: ReceiverAction, context: ChannelHandlerContext) {
        for frame in action.frames {
            if case .error(let error) = frame {
                logger.notice("refusing sender", metadata: ["code": "\(error.code)", "reason": "\(error.message)"])
            }
            context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
        }
        if let operation = action.storage {
            start(operation, context: context)
        }
        switch action.reading {
        case .pause:
            readingPaused = true
        case .resume:
            readingPaused = false
            if readRequestedWhilePaused {
                readRequestedWhilePaused = false
                context.read()
            }
        case nil:
            break
        }
        if action.close {
            context.close(promise: nil)
        }
    }

    private func start(_ operation: StorageOperation, context: ChannelHandlerContext) {
        let session = self.session
        let storage = self.storage
        let allocator = context.channel.allocator
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let result = threadPool.runIfActive(eventLoop: context.eventLoop) {
            try session.perform(operation, storage: storage, allocator: allocator)
        }
        if case .release = operation { return }
        result.whenComplete { result in
            let (handler, context) = loopBound.value
            let action: ReceiverAction
            switch result {
            case .success(.opened(let length)): action = handler.state.streamOpened(length: length)
            case .success(.appended(let durableLength)):
                action = handler.state.appendCompleted(durableLength: durableLength)
            case .success(.read(let bytes)): action = handler.state.readCompleted(bytes)
            case .success(.released): return
            case .failure(let error as StreamStorageError):
                handler.logger.error("storage failed", metadata: ["error": "\(error)"])
                action = handler.state.storageFailed(error)
            case .failure(let error):
                let wrapped = StreamStorageError(kind: .io, message: "storage is unavailable: \(error)")
                action = handler.state.storageFailed(wrapped)
            }
            handler.run(action, context: context)
        }
    }
}

/// The stream a connection holds open, touched only on the thread pool.
///
/// `@unchecked Sendable` is sound because ``ReceiverStateMachine`` starts a storage operation only when none is in
/// flight, and each operation is handed to the pool after the previous one's completion was seen on the event
/// loop: the accesses are ordered by those hand-offs and never overlap.
private final class StorageSession: @unchecked Sendable {
    enum Outcome: Sendable {
        case opened(UInt64)
        case appended(UInt64)
        case read(ByteBuffer)
        case released
    }

    private var appender: (any StreamAppender)?
    private var reader: (any StreamReader)?

    func perform(
        _ operation: StorageOperation, storage: any StreamStorage, allocator: ByteBufferAllocator
    ) throws -> Outcome {
        switch operation {
        case .open(let name, .append):
            let appender = try storage.openAppender(for: name)
            self.appender = appender
            return .opened(appender.durableLength)
        case .open(let name, .read):
            let reader = try storage.openReader(for: name)
            self.reader = reader
            return .opened(reader.length)
        case .appendAndFlush(let buffers):
            guard let appender else { fatalError("append before the stream was opened for appending") }
            for buffer in buffers {
                try buffer.withUnsafeReadableBytes { bytes in try appender.append(bytes) }
            }
            return .appended(try appender.makeDurable())
        case .read(let offset, let count):
            guard let reader else { fatalError("read before the stream was opened for reading") }
            var buffer = allocator.buffer(capacity: count)
            let read = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { target in
                try reader.read(at: offset, into: UnsafeMutableRawBufferPointer(rebasing: target[..<count]))
            }
            guard read > 0 else {
                throw StreamStorageError(kind: .corrupt, message: "stream \(reader.name) ended early at \(offset)")
            }
            return .read(buffer)
        case .release:
            appender?.close()
            reader?.close()
            appender = nil
            reader = nil
            return .released
        }
    }
}
