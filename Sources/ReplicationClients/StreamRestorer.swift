import DurableFiles
import HashChain
import NIOCore
import NIOPosix
import ReplicationProtocol
import ReplicationTransport
import SystemPackage

/// Reads a stream back from the appliance into a file descriptor, byte for byte.
public struct StreamRestorer: Sendable {
    /// Where to read from.
    public var endpoint: ReplicationEndpoint
    private let group: any EventLoopGroup
    private let threadPool: NIOThreadPool

    /// Creates a restorer.
    public init(
        endpoint: ReplicationEndpoint, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        threadPool: NIOThreadPool = .singleton
    ) {
        self.endpoint = endpoint
        self.group = group
        self.threadPool = threadPool
    }

    /// Writes `stream` from `offset` to its end (or `length` bytes) to `output`; returns the bytes written.
    ///
    /// With `expectedHead` (from a receipt home kept), a whole stream must have that hash-chain head at that
    /// length: storage replaced or truncated on the appliance, which the appliance's own head would vouch for, fails
    /// the restore there.
    ///
    /// With `continuing` (the chain over the stream's first `offset` bytes, which the caller already holds), the
    /// rest from `offset` is checked too: the whole stream's head must be the appliance's.
    public func restore(
        stream: String, from offset: UInt64 = 0, length: UInt64? = nil, to output: SystemPackage.FileDescriptor,
        expectedHead: ExpectedHead? = nil, continuing: StreamHashChain? = nil,
        progress: @escaping @Sendable (_ written: UInt64, _ total: UInt64) -> Void = { _, _ in }
    ) async throws -> UInt64 {
        if let continuing, continuing.length != offset || length != nil {
            throw ReplicationError.configuration("a restore continues a chain at its end, to the stream's end")
        }
        if let expectedHead, continuing != nil, expectedHead.length < offset {
            throw ReplicationError.configuration(
                "the receipt's length \(expectedHead.length) lies in the part already restored; restore afresh to check it"
            )
        }
        if expectedHead != nil, (offset != 0 && continuing == nil) || length != nil {
            throw ReplicationError.configuration("an expected head is checked on a whole stream, not on a range")
        }
        let (channel, diagnostics) = try await ClientConnection.open(endpoint, group: group)
        let endpoint = self.endpoint
        let threadPool = self.threadPool
        do {
            return try await channel.executeThenClose { inbound, outbound in
                try await outbound.write(.hello(Hello(intent: .read, stream: stream)))
                var frames = inbound.makeAsyncIterator()
                let streamLength: UInt64
                let streamHead: ChainHead
                switch try await frames.next() {
                case .ready(let length, let head): (streamLength, streamHead) = (length, head)
                case .error(let error): throw ReplicationError.refused(error)
                case nil: throw ReplicationError.connection("the appliance closed the connection before it was ready")
                case let other?: throw ReplicationError.protocolViolation("expected ready, got \(other.kind)")
                }
                if let expectedHead, expectedHead.length > streamLength {
                    throw ReplicationError.protocolViolation(
                        "the appliance holds \(streamLength) bytes of \(stream), fewer than the \(expectedHead.length) "
                            + "it acknowledged: the stream was truncated or replaced")
                }
                guard offset <= streamLength else {
                    throw ReplicationError.configuration(
                        "offset \(offset) is beyond the end of stream \(stream) (\(streamLength) bytes)")
                }
                let wanted = min(length ?? (streamLength - offset), streamLength - offset)
                try await outbound.write(.readRange(offset: offset, length: wanted))
                var next = offset
                // A whole stream is checked against the appliance's head as it arrives; a range from elsewhere
                // cannot be, since the chain's state at its start is not known here.
                var chain = offset == 0 && wanted == streamLength ? StreamHashChain() : continuing
                while true {
                    switch try await frames.next() {
                    case .data(let at, let bytes):
                        guard at == next, UInt64(bytes.readableBytes) <= offset + wanted - next else {
                            throw ReplicationError.protocolViolation(
                                "data at \(at)+\(bytes.readableBytes) where \(next) was expected")
                        }
                        try await threadPool.runIfActive {
                            do {
                                try bytes.withUnsafeReadableBytes { try FileSystemCalls.writeAll(output, $0) }
                            } catch {
                                throw ReplicationError.localIO("cannot write the output: \(error)")
                            }
                        }
                        if chain != nil {
                            try bytes.withUnsafeReadableBytes { bytes throws(ReplicationError) in
                                try Self.append(bytes, at: next, to: &chain!, checking: expectedHead)
                            }
                        }
                        next += UInt64(bytes.readableBytes)
                        progress(next - offset, wanted)
                    case .end(let end):
                        guard end == next, end == offset + wanted else {
                            throw ReplicationError.protocolViolation(
                                "the appliance ended the range at \(end) after sending up to \(next)")
                        }
                        if let chain, chain.head != streamHead {
                            throw ReplicationError.protocolViolation(
                                "the restored bytes hash to \(chain.head) but the appliance's head is "
                                    + "\(streamHead): do not use this copy")
                        }
                        return wanted
                    case .error(let error):
                        throw ReplicationError.refused(error)
                    case nil:
                        throw ReplicationError.connection("the appliance closed the connection at offset \(next)")
                    case let other?:
                        throw ReplicationError.protocolViolation("expected data, got \(other.kind)")
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

    /// Advances `chain` over `bytes`, which start at stream offset `offset`, and checks the head where the chain
    /// reaches the expected length.
    private static func append(
        _ bytes: UnsafeRawBufferPointer, at offset: UInt64, to chain: inout StreamHashChain, checking: ExpectedHead?
    ) throws(ReplicationError) {
        guard let checking, offset <= checking.length, checking.length <= offset + UInt64(bytes.count) else {
            chain.append(bytes)
            return
        }
        let split = Int(checking.length - offset)
        chain.append(UnsafeRawBufferPointer(rebasing: bytes[..<split]))
        guard chain.head == checking.head else {
            throw ReplicationError.protocolViolation(
                "at \(checking.length) bytes the restored stream's head is \(chain.head), but the receipt "
                    + "says \(checking.head): the appliance no longer holds what it acknowledged; do not use this copy")
        }
        chain.append(UnsafeRawBufferPointer(rebasing: bytes[split...]))
    }
}

/// The hash-chain head a stream must have at a length: what a receipt home kept says the appliance acknowledged.
public struct ExpectedHead: Sendable, Hashable {
    /// The length.
    public var length: UInt64
    /// The head there.
    public var head: ChainHead

    /// Creates an expectation.
    public init(length: UInt64, head: ChainHead) {
        self.length = length
        self.head = head
    }
}
