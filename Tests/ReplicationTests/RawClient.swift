import HashChain
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import ReplicationProtocol

/// A client that speaks raw bytes over real TLS (or plain TCP), to send the receiver what no real sender would.
struct RawClient {
    let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>

    static func connect(port: Int, tls: TLSConfiguration?) async throws -> RawClient {
        let context = try tls.map { try NIOSSLContext(configuration: $0) }
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let context {
                        try channel.pipeline.syncOperations.addHandler(
                            try NIOSSLClientHandler(context: context, serverHostname: nil))
                    }
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return RawClient(channel: channel)
    }

    /// A plain TCP connection that sends nothing unless told to: for tests that only occupy the receiver.
    static func openSocket(port: Int) async throws -> any Channel {
        try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port).get()
    }

    /// Writes `bytes`, then reads until the receiver closes; returns the frames it sent. With `afterReady`, writes
    /// `bytes`, waits for the receiver's ready frame, then writes `afterReady`, as the protocol has a client do.
    func exchange(_ bytes: [UInt8], afterReady: [UInt8]? = nil) async throws -> [Frame] {
        try await channel.executeThenClose { inbound, outbound in
            if !bytes.isEmpty { try await outbound.write(ByteBuffer(bytes: bytes)) }
            var received = ByteBuffer()
            var pending = afterReady
            do {
                for try await var chunk in inbound {
                    received.writeBuffer(&chunk)
                    var peek = received
                    if let next = pending, case .ready? = try? FrameParser().parse(&peek) {
                        try await outbound.write(ByteBuffer(bytes: next))
                        pending = nil
                    }
                }
            } catch {
                // The receiver closed without a TLS close_notify: the frames before are still what it said.
            }
            var frames: [Frame] = []
            while let frame = try FrameParser().parse(&received) { frames.append(frame) }
            return frames
        }
    }
}

/// The frames of a raw connection, one at a time: for tests that hold several connections and act between frames.
struct FrameReader {
    private var iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private var received = ByteBuffer()

    init(_ inbound: NIOAsyncChannelInboundStream<ByteBuffer>) {
        iterator = inbound.makeAsyncIterator()
    }

    /// The next frame; nil once the receiver closed the connection (with or without a TLS close_notify).
    mutating func next() async throws -> Frame? {
        while true {
            if let frame = try FrameParser().parse(&received) { return frame }
            let chunk: ByteBuffer?
            do {
                chunk = try await iterator.next()
            } catch {
                return nil
            }
            guard var chunk else { return nil }
            received.writeBuffer(&chunk)
        }
    }
}

extension Frame {
    static func bytes(_ frame: Frame) -> [UInt8] {
        var buffer = ByteBuffer()
        buffer.writeFrame(frame)
        return Array(buffer.readableBytesView)
    }

    var errorCode: ProtocolErrorCode? {
        if case .error(let error) = self { return error.code }
        return nil
    }
}

extension ChainHead {
    /// The hash-chain head of a stream that holds exactly `bytes`.
    static func of(_ bytes: [UInt8]) -> ChainHead {
        StreamHashChain.head(of: bytes)
    }
}
