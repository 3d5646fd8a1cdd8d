import DurableFiles
import HashChain
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ReplicationProtocol
import ReplicationTransport
import SystemPackage

/// Reads the input once, a frame at a time, on the thread pool: it may be a blocking pipe.
///
/// A read of a pipe blocks until the input's producer writes, which may be much later (`pg_basebackup` between
/// files) or never. A connection that fails meanwhile (a refusal, a revocation, a broken network) must not wait for
/// it: ``next(allocator:)`` stops waiting when its task is cancelled, and the read, which no one can interrupt,
/// stays pending; the next connection's first ``next(allocator:)`` takes its bytes, so no byte of the input is lost
/// or read twice.
final class InputReader: Sendable {
    private let input: SystemPackage.FileDescriptor
    private let frameBytes: Int
    private let threadPool: NIOThreadPool
    private let eventLoop: any EventLoop
    private let consumed = NIOLockedValueBox<UInt64>(0)
    /// The read in flight, until a caller has taken its bytes.
    private let pending = NIOLockedValueBox<EventLoopFuture<ByteBuffer>?>(nil)
    /// The input is a file still being written: a read waits for bytes beyond what was read, as on a pipe.
    private let growing: GrowingFile?

    init(
        input: SystemPackage.FileDescriptor, frameBytes: Int, threadPool: NIOThreadPool, eventLoop: any EventLoop,
        growing: GrowingFile? = nil
    ) {
        self.growing = growing
        self.input = input
        self.frameBytes = frameBytes
        self.threadPool = threadPool
        self.eventLoop = eventLoop
    }

    /// The next piece of the input; empty at its end. Throws `CancellationError` when its task is cancelled before
    /// the piece is read; the piece is then the next call's.
    func next(allocator: ByteBufferAllocator) async throws -> ByteBuffer {
        let read = pending.withLockedValue { pending in
            if let pending { return pending }
            let read = startRead(allocator: allocator)
            pending = read
            return read
        }
        let delivery = Delivery()
        let bytes = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                delivery.install(continuation)
                read.whenComplete { delivery.resume(with: $0) }
            }
        } onCancel: {
            delivery.resume(with: .failure(CancellationError()))
        }
        pending.withLockedValue { if $0 === read { $0 = nil } }
        return bytes
    }

    private func startRead(allocator: ByteBufferAllocator) -> EventLoopFuture<ByteBuffer> {
        let frameBytes = self.frameBytes
        let input = self.input
        let consumed = self.consumed
        let growing = self.growing
        return threadPool.runIfActive(eventLoop: eventLoop) {
            var buffer = allocator.buffer(capacity: frameBytes)
            do {
                var limit = frameBytes
                if let growing {
                    let readable = try growing.readable(from: consumed.withLockedValue { $0 })
                    if readable == 0 { return buffer }
                    limit = Int(min(UInt64(frameBytes), readable))
                }
                _ = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: frameBytes) { target in
                    try FileSystemCalls.readSome(input, into: UnsafeMutableRawBufferPointer(rebasing: target[..<limit]))
                }
            } catch {
                throw ReplicationError.localIO("cannot read the input: \(error)")
            }
            consumed.withLockedValue { $0 += UInt64(buffer.readableBytes) }
            return buffer
        }
    }

    /// Starts the input over from its first byte, for a prefix check that a broken connection interrupted.
    func rewindToStart() async throws {
        guard consumed.withLockedValue({ $0 }) > 0 else {
            // Nothing read yet: a read still pending reads from the start.
            return
        }
        let cannotRewind = ReplicationError.localIO(
            "the connection broke while checking what the appliance holds, and the input (a pipe) cannot be read "
                + "again from its start: run the send again")
        guard (try? FileSystemCalls.seek(input, to: 0, from: .current)) != nil else { throw cannotRewind }
        // A file: a pending read ends at once, and must end before the seek, which it would undo. Only its end
        // matters: its bytes are read again after the seek, and an error would come again there.
        if let read = pending.withLockedValue({ $0 }) { _ = try? await read.get() }
        pending.withLockedValue { $0 = nil }
        do {
            _ = try FileSystemCalls.seek(input, to: 0)
        } catch {
            throw cannotRewind
        }
        consumed.withLockedValue { $0 = 0 }
    }

    /// Resumes one waiter once: with the read's result, or with the cancellation that came first.
    private final class Delivery: Sendable {
        private struct State {
            var continuation: CheckedContinuation<ByteBuffer, any Error>?
            var early: Result<ByteBuffer, any Error>?
            var done = false
        }
        private let state = NIOLockedValueBox(State())

        func install(_ continuation: CheckedContinuation<ByteBuffer, any Error>) {
            let early: Result<ByteBuffer, any Error>? = state.withLockedValue { state in
                if let early = state.early { return early }
                state.continuation = continuation
                return nil
            }
            if let early { continuation.resume(with: early) }
        }

        func resume(with result: Result<ByteBuffer, any Error>) {
            let continuation: CheckedContinuation<ByteBuffer, any Error>? = state.withLockedValue { state in
                guard !state.done else { return nil }
                state.done = true
                guard let continuation = state.continuation else {
                    state.early = result
                    return nil
                }
                state.continuation = nil
                return continuation
            }
            continuation?.resume(with: result)
        }
    }
}

/// One connection of a send: hello, ready, then data out and acknowledgements in until the input is durable.
struct SendConnection: Sendable {
    let sender: StreamSender
    let stream: String
    let ledger: NIOLockedValueBox<SendLedger>
    let reader: InputReader
    let progress: @Sendable (SendProgress) -> Void
    let connectionNumber: Int

    /// Runs the connection until everything is durable; returns the receipt when one was asked for. Every decision
    /// is the ``SenderSession``'s; this reads frames, runs the writer and does what the session says.
    func run() async throws -> Receipt? {
        let (channel, diagnostics) = try await sender.open()
        let endpoint = sender.endpoint
        do {
            return try await channel.executeThenClose { inbound, outbound in
                try await outbound.write(.hello(Hello(intent: .append, stream: stream)))
                var frames = inbound.makeAsyncIterator()
                func nextFrame() async throws -> Frame? {
                    do {
                        return try await frames.next()
                    } catch {
                        throw ReplicationError.broken(error, endpoint: endpoint, diagnostics: diagnostics)
                    }
                }
                var session = SenderSession(stream: stream, mode: sender.mode, requestsReceipt: sender.requestsReceipt)
                let ready = try await nextFrame()
                var action = ledger.withLockedValue { session.received(ready, ledger: &$0) }
                var carry: ByteBuffer?
                if case .checkDurablePrefix(let length, let head) = action {
                    let checked: Result<StreamHashChain, ReplicationError>
                    do {
                        let (chain, rest) = try await skipDurablePrefix(length, head: head, channel: channel)
                        carry = rest
                        checked = .success(chain)
                    } catch let error as ReplicationError {
                        checked = .failure(error)
                    }
                    action = ledger.withLockedValue { session.prefixChecked(checked, ledger: &$0) }
                }
                guard case .startWriting(let resend) = action else {
                    if case .fail(let error) = action { throw error }
                    preconditionFailure("a session's first action is to check a prefix, to write, or to fail")
                }
                let (acknowledgements, signal) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
                let firstNewBytes = carry
                return try await withThrowingTaskGroup(of: Void.self) { tasks in
                    tasks.addTask {
                        do {
                            try await writeData(
                                resend: resend, carry: firstNewBytes, to: outbound, acknowledgements: acknowledgements,
                                allocator: channel.channel.allocator)
                        } catch {
                            // Closing wakes the loop below, which reports this failure rather than the close.
                            channel.channel.close(promise: nil)
                            throw error
                        }
                    }
                    defer { signal.finish() }
                    while true {
                        let frame = try await nextFrame()
                        let action = ledger.withLockedValue { session.received(frame, ledger: &$0) }
                        switch action {
                        case .acknowledged:
                            signal.yield()
                            reportProgress()
                        case .requestReceipt:
                            signal.yield()
                            reportProgress()
                            try await tasks.next()  // The writer is done; the connection is ours.
                            try await outbound.write(.receiptRequest)
                        case .finished(let receipt):
                            if receipt == nil { reportProgress() }
                            tasks.cancelAll()
                            return receipt
                        case .fail(let error):
                            if frame == nil {
                                // The writer may be waiting for room in its window, which no acknowledgement will
                                // make now, or for its input, which may not come for long: both waits end here. A
                                // writer that failed first explains the close better than the close itself.
                                signal.finish()
                                tasks.cancelAll()
                                do {
                                    try await tasks.next()
                                } catch is CancellationError {
                                    // The writer stopped because it was told to: the close is the news.
                                }
                            }
                            throw error
                        case .checkDurablePrefix, .startWriting:
                            preconditionFailure("a session checks its prefix and starts writing once, at its ready")
                        }
                    }
                }
            }
        } catch let error as ReplicationError where error.kind != .connection {
            throw error
        } catch is CancellationError {
            throw ReplicationError.connection("the send was cancelled")
        } catch {
            throw ReplicationError.broken(error, endpoint: endpoint, diagnostics: diagnostics)
        }
    }

    private func reportProgress() {
        let state = ledger.withLockedValue { $0.snapshot }
        progress(
            SendProgress(
                startLength: state.startLength, bytesSent: state.sentEnd - state.startLength,
                bytesAcknowledged: state.acknowledged - state.startLength, connections: connectionNumber))
    }

    /// Sends what the appliance lacks, then new input; waits for acknowledgements while the window is full; ends
    /// with a sync once the input is exhausted.
    private func writeData(
        resend: [OutgoingData], carry: ByteBuffer?, to outbound: NIOAsyncChannelOutboundWriter<Frame>,
        acknowledgements: AsyncStream<Void>, allocator: ByteBufferAllocator
    ) async throws {
        for frame in resend {
            try await outbound.write(.data(offset: frame.offset, bytes: frame.bytes))
        }
        if let carry, carry.readableBytes > 0 {
            let offset = ledger.withLockedValue { $0.sending(carry) }
            try await outbound.write(.data(offset: offset, bytes: carry))
        }
        var waiter = acknowledgements.makeAsyncIterator()
        while !ledger.withLockedValue({ $0.inputFinished }) {
            while ledger.withLockedValue({ $0.retainedBytes >= sender.windowBytes }) {
                guard await waiter.next() != nil else { return }
            }
            let bytes = try await reader.next(allocator: allocator)
            if bytes.readableBytes == 0 {
                ledger.withLockedValue { $0.finishInput() }
                break
            }
            let offset = ledger.withLockedValue { $0.sending(bytes) }
            try await outbound.write(.data(offset: offset, bytes: bytes))
        }
        // The sync is answered with an acknowledgement even when everything already is, which ends the loop.
        try await outbound.write(.sync)
        // Everything is sent: a caller with more to send may start it while this waits for its last acknowledgement.
        reportProgress()
    }

    /// Reads the first `length` bytes of the input, which the appliance already holds, and checks that they are the
    /// same bytes: their chain must end at the appliance's head. Returns the chain and what was read beyond them.
    private func skipDurablePrefix(
        _ length: UInt64, head: ChainHead, channel: NIOAsyncChannel<Frame, Frame>
    ) async throws -> (StreamHashChain, ByteBuffer?) {
        try await reader.rewindToStart()
        var chain = StreamHashChain()
        var rest: ByteBuffer?
        while chain.length < length {
            var bytes = try await reader.next(allocator: channel.channel.allocator)
            guard bytes.readableBytes > 0 else {
                throw ReplicationError.refused(
                    ErrorFrame(
                        code: .wrongOffset,
                        message: "stream \(stream) already holds \(length) bytes, more than this input's "
                            + "\(chain.length): it is not this input's stream"))
            }
            let take = Int(min(UInt64(bytes.readableBytes), length - chain.length))
            bytes.readSlice(length: take)!.withUnsafeReadableBytes { chain.append($0) }
            if bytes.readableBytes > 0 { rest = bytes }
        }
        guard chain.head == head else {
            throw ReplicationError.refused(
                ErrorFrame(
                    code: .wrongOffset,
                    message: "the first \(length) bytes of stream \(stream) differ from this input's (heads "
                        + "\(head) and \(chain.head)): it is not this input's stream"))
        }
        return (chain, rest)
    }
}
