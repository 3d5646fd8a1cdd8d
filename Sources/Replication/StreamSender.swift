import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ReplicationProtocol
import SystemPackage

/// How far a send has come, for a progress line.
public struct SendProgress: Sendable {
    /// The stream's durable length when the send started; the input is appended after it.
    public var startLength: UInt64
    /// Input bytes handed to the connection.
    public var bytesSent: UInt64
    /// Input bytes the appliance acknowledged as durable.
    public var bytesAcknowledged: UInt64
}

/// The result of a completed send: everything in it is durable on the appliance.
public struct SendReport: Sendable {
    /// The stream's durable length before the input was appended.
    public var startLength: UInt64
    /// The stream's durable length now: `startLength` plus the input's size.
    public var durableLength: UInt64
}

/// Pushes an input to the end of a stream and returns only once the appliance acknowledged all of it as durable.
public struct StreamSender: Sendable {
    /// Where to send.
    public var endpoint: ReplicationEndpoint
    /// Bytes per data frame.
    public var frameBytes: Int
    private let group: any EventLoopGroup
    private let threadPool: NIOThreadPool

    /// Creates a sender.
    public init(
        endpoint: ReplicationEndpoint, frameBytes: Int = 256 << 10,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, threadPool: NIOThreadPool = .singleton
    ) {
        precondition(frameBytes > 0 && frameBytes <= ProtocolLimits.maximumDataBytes)
        self.endpoint = endpoint
        self.frameBytes = frameBytes
        self.group = group
        self.threadPool = threadPool
    }

    /// Appends everything readable from `input` (a file, a pipe or standard input) to `stream`.
    public func send(
        stream: String, from input: SystemPackage.FileDescriptor,
        progress: @escaping @Sendable (SendProgress) -> Void = { _ in }
    ) async throws -> SendReport {
        let (channel, diagnostics) = try await ClientConnection.open(endpoint, group: group)
        let endpoint = self.endpoint
        do {
            return try await channel.executeThenClose { inbound, outbound in
                try await outbound.write(.hello(Hello(intent: .append, stream: stream)))
                var frames = inbound.makeAsyncIterator()
                let startLength: UInt64
                switch try await frames.next() {
                case .ready(let length): startLength = length
                case .error(let error): throw ReplicationError.refused(error)
                case nil: throw ReplicationError.connection("the appliance closed the connection before it was ready")
                case let other?: throw ReplicationError.protocolViolation("expected ready, got \(other.kind)")
                }
                let sent = NIOLockedValueBox(SentState(total: nil, count: 0, failure: nil))
                return try await withThrowingTaskGroup(of: Void.self) { tasks in
                    tasks.addTask {
                        do {
                            try await copyInput(
                                input, to: outbound, startingAt: startLength, sent: sent,
                                allocator: channel.channel.allocator)
                        } catch {
                            // Closing wakes the loop below, which reports this failure rather than the close.
                            sent.withLockedValue { $0.failure = error }
                            channel.channel.close(promise: nil)
                            throw error
                        }
                    }
                    var acknowledged = startLength
                    while true {
                        let frame: Frame?
                        do {
                            frame = try await frames.next()
                        } catch {
                            if let failure = sent.withLockedValue({ $0.failure }) { throw failure }
                            throw ReplicationError.broken(error, endpoint: endpoint, diagnostics: diagnostics)
                        }
                        if frame == nil, let failure = sent.withLockedValue({ $0.failure }) { throw failure }
                        switch frame {
                        case .acknowledgement(let durableLength):
                            let state = sent.withLockedValue { $0 }
                            guard durableLength >= acknowledged, durableLength <= startLength + state.count else {
                                throw ReplicationError.protocolViolation(
                                    "acknowledged \(durableLength) bytes, outside \(acknowledged)…"
                                        + "\(startLength + state.count)")
                            }
                            acknowledged = durableLength
                            progress(
                                SendProgress(
                                    startLength: startLength, bytesSent: state.count,
                                    bytesAcknowledged: acknowledged - startLength))
                            if let total = state.total, acknowledged == startLength + total {
                                try await tasks.waitForAll()
                                return SendReport(startLength: startLength, durableLength: acknowledged)
                            }
                        case .error(let error):
                            throw ReplicationError.refused(error)
                        case nil:
                            throw ReplicationError.connection(
                                "the appliance closed the connection after acknowledging \(acknowledged) bytes; "
                                    + "send again to resume")
                        case let other?:
                            throw ReplicationError.protocolViolation("expected an acknowledgement, got \(other.kind)")
                        }
                    }
                }
            }
        } catch let error as ReplicationError where error.kind != .connection {
            throw error
        } catch {
            // A broken connection may have a TLS cause (a rejected certificate) that explains it better.
            throw ReplicationError.broken(error, endpoint: endpoint, diagnostics: diagnostics)
        }
    }

    private struct SentState {
        var total: UInt64?
        var count: UInt64
        var failure: (any Error)?
    }

    /// Reads the input on the thread pool (it may be a blocking pipe) and writes one data frame per read; the
    /// async writer suspends while the connection is not writable, which is the sender's backpressure.
    private func copyInput(
        _ input: SystemPackage.FileDescriptor, to outbound: NIOAsyncChannelOutboundWriter<Frame>,
        startingAt startLength: UInt64,
        sent: NIOLockedValueBox<SentState>, allocator: ByteBufferAllocator
    ) async throws {
        var offset = startLength
        let frameBytes = self.frameBytes
        while true {
            let buffer = try await threadPool.runIfActive {
                var buffer = allocator.buffer(capacity: frameBytes)
                do {
                    _ = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: frameBytes) { target in
                        try input.read(into: UnsafeMutableRawBufferPointer(rebasing: target[..<frameBytes]))
                    }
                } catch {
                    throw ReplicationError.localIO("cannot read the input: \(error)")
                }
                return buffer
            }
            if buffer.readableBytes == 0 { break }
            try await outbound.write(.data(offset: offset, bytes: buffer))
            offset += UInt64(buffer.readableBytes)
            sent.withLockedValue { $0.count = offset - startLength }
        }
        // The total is recorded before the sync goes out, so the acknowledgement that answers the sync always
        // finds it.
        sent.withLockedValue { $0.total = offset - startLength }
        try await outbound.write(.sync)
    }
}
