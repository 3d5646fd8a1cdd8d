import DevelopmentIdentity
import Foundation
import HashChain
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import Receipts
import Receiver
import ReplicationClients
import ReplicationProtocol
import ReplicationTransport
import SystemPackage
import TestSupport
import Testing

/// The sender and the restore trust an appliance only as far as they can check it: an appliance (or whoever took
/// its place with its certificate) that lies about what it holds is caught, and the send or restore fails at once,
/// naming the lie, instead of reporting success or retrying.
/// A time limit, because the sender's failure here used to be a hang: a connection that closed while the sender's
/// window was full left it waiting for an acknowledgement that could not come.
@Suite("A receiver that lies", .timeLimit(.minutes(1)))
struct LyingReceiverTests {
    /// 5000 bytes in frames of 1000: five data frames, each answered as the lie says.
    static let input = (0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }

    @Test(
        "the sender refuses an acknowledgement that goes back, goes beyond what was sent, or names another head",
        arguments: [
            (LyingReceiver.Lie.decreasingAcknowledgement, "outside"),
            (.excessiveAcknowledgement, "outside"),
            (.wrongHead, "differ from the sent ones"),
        ])
    func lyingAcknowledgements(lie: LyingReceiver.Lie, said: String) async throws {
        try await LyingReceiver.run(lie) { receiver in
            do {
                let report = try await receiver.send(Self.input)
                Issue.record("a send to a receiver that lies (\(lie)) succeeded: \(report)")
            } catch let error as ReplicationError {
                #expect(error.description.contains(said), "\(error)")
                #expect(receiver.connections == 1, "the sender retried a broken promise: \(receiver.connections)")
            }
        }
    }

    @Test("the sender refuses a reconnection whose appliance holds less than it acknowledged, and does not retry")
    func resumeBelowAcknowledged() async throws {
        try await LyingReceiver.run(.resumeBelowAcknowledged) { receiver in
            do {
                let report = try await receiver.send(Self.input)
                Issue.record("a send to a receiver that forgot acknowledged bytes succeeded: \(report)")
            } catch let error as ReplicationError {
                #expect(error.description.contains("lost acknowledged data"), "\(error)")
                #expect(receiver.connections == 2, "\(receiver.connections) connections")
            }
        }
    }

    @Test("a restore whose bytes do not hash to the appliance's head fails, and says not to use the copy")
    func restoreWithWrongHead() async throws {
        try await LyingReceiver.run(.wrongBytesOnRead) { receiver in
            do {
                let restored = try await receiver.restore()
                Issue.record("a restore of bytes that do not match their head succeeded: \(restored.count) bytes")
            } catch let error as ReplicationError {
                #expect(error.description.contains("do not use this copy"), "\(error)")
            }
        }
    }
}

/// A replication receiver over real TLS that answers as a lie says, for the clients' side of the promises.
final class LyingReceiver: Sendable {
    enum Lie: Sendable, CustomStringConvertible {
        /// After the second data frame, acknowledges less than it already did.
        case decreasingAcknowledgement
        /// Acknowledges the first data frame with 100 bytes more than were sent.
        case excessiveAcknowledgement
        /// Acknowledges the first data frame with the head of other bytes.
        case wrongHead
        /// Acknowledges two frames honestly and closes; on the next connection reports a byte fewer.
        case resumeBelowAcknowledged
        /// Serves a stream whose last byte is not the one its head covers.
        case wrongBytesOnRead

        var description: String {
            switch self {
            case .decreasingAcknowledgement: "decreasing acknowledgement"
            case .excessiveAcknowledgement: "excessive acknowledgement"
            case .wrongHead: "wrong head"
            case .resumeBelowAcknowledged: "resume below what was acknowledged"
            case .wrongBytesOnRead: "wrong bytes on read"
            }
        }
    }

    let scratch: ScratchDirectory
    let identity: DevelopmentIdentity
    let port: Int
    private let channel: any Channel
    private let connectionCount = NIOLockedValueBox(0)
    /// What the first connection acknowledged, for the second one to lie about.
    private let acknowledged = NIOLockedValueBox<UInt64>(0)

    var connections: Int { connectionCount.withLockedValue { $0 } }

    private init(_ lie: Lie) async throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-liar")
        self.scratch = scratch
        do {
            identity = try DevelopmentIdentity.loadOrCreate(in: FilePath("\(scratch.path)/identity"))
            let context = try NIOSSLContext(
                configuration: try ReplicationTLS.receiverConfiguration(
                    TLSIdentityFiles(
                        certificate: identity.applianceCertificate.string, privateKey: identity.applianceKey.string,
                        trustedAuthorities: identity.authorityCertificate.string)))
            let connectionCount = self.connectionCount
            let acknowledged = self.acknowledged
            channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .childChannelInitializer { channel in
                    let number = connectionCount.withLockedValue { count in
                        count += 1
                        return count
                    }
                    return channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandlers([
                            NIOSSLServerHandler(context: context),
                            ByteToMessageHandler(FrameDecoder()),
                            MessageToByteHandler(FrameEncoder()),
                            LyingHandler(lie: lie, connection: number, acknowledged: acknowledged),
                        ])
                    }
                }
                .bind(host: "127.0.0.1", port: 0).get()
            port = channel.localAddress!.port!
        } catch {
            scratch.remove()
            throw error
        }
    }

    /// Runs `body` against a fresh lying receiver and stops it afterwards.
    static func run(_ lie: Lie, _ body: (LyingReceiver) async throws -> Void) async throws {
        let receiver = try await LyingReceiver(lie)
        do {
            try await body(receiver)
        } catch {
            await receiver.stop()
            throw error
        }
        await receiver.stop()
    }

    func stop() async {
        try? await channel.close()
        scratch.remove()
    }

    private var endpoint: ReplicationEndpoint {
        get throws {
            ReplicationEndpoint(
                host: "127.0.0.1", port: port,
                tls: try ReplicationTLS.senderConfiguration(
                    TLSIdentityFiles(
                        certificate: identity.senderCertificate.string, privateKey: identity.senderKey.string,
                        trustedAuthorities: identity.authorityCertificate.string)))
        }
    }

    /// Sends `bytes` to "ee.liar" in frames of 1000 bytes, retrying for a few seconds at most.
    func send(_ bytes: [UInt8]) async throws -> SendReport {
        let path = "\(scratch.path)/input-\(UUID().uuidString)"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let descriptor = try FileDescriptor.open(FilePath(path), .readOnly)
        defer { try? descriptor.close() }
        return try await StreamSender(
            endpoint: try endpoint, frameBytes: 1000, windowBytes: 1000,
            retry: RetryPolicy(initialDelay: .milliseconds(20), giveUpAfter: .seconds(5))
        ).send(stream: "ee.liar", from: descriptor)
    }

    /// Restores "ee.liar" whole.
    func restore() async throws -> [UInt8] {
        let path = "\(scratch.path)/restored-\(UUID().uuidString)"
        let descriptor = try FileDescriptor.open(
            FilePath(path), .writeOnly, options: [.create, .truncate], permissions: [.ownerReadWrite])
        defer { try? descriptor.close() }
        _ = try await StreamRestorer(endpoint: try endpoint).restore(stream: "ee.liar", to: descriptor)
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }
}

/// One connection of a ``LyingReceiver``.
private final class LyingHandler: ChannelInboundHandler {
    typealias InboundIn = Frame
    typealias OutboundOut = Frame

    private let lie: LyingReceiver.Lie
    private let connection: Int
    private let acknowledged: NIOLockedValueBox<UInt64>
    private var chain = StreamHashChain()
    private var frames = 0

    init(lie: LyingReceiver.Lie, connection: Int, acknowledged: NIOLockedValueBox<UInt64>) {
        self.lie = lie
        self.connection = connection
        self.acknowledged = acknowledged
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .hello(let hello) where hello.intent == .append:
            if case .resumeBelowAcknowledged = lie, connection > 1 {
                let held = acknowledged.withLockedValue { $0 } - 1
                answer(.ready(length: held, head: .empty), context: context)
            } else {
                answer(.ready(length: 0, head: .empty), context: context)
            }
        case .hello:
            // A read: three bytes whose head is that of [1, 2, 3], served as [1, 2, 4].
            answer(.ready(length: 3, head: StreamHashChain.head(of: [1, 2, 3])), context: context)
        case .readRange:
            answer(.data(offset: 0, bytes: ByteBuffer(bytes: [1, 2, 4])), context: context)
            answer(.end(offset: 3), context: context)
        case .data(_, let bytes):
            bytes.withUnsafeReadableBytes { chain.append($0) }
            frames += 1
            let honest = Frame.acknowledgement(durableLength: chain.length, head: chain.head)
            switch lie {
            case .decreasingAcknowledgement where frames == 2:
                answer(honest, context: context)
                answer(.acknowledgement(durableLength: chain.length - 1, head: .empty), context: context)
            case .excessiveAcknowledgement:
                answer(.acknowledgement(durableLength: chain.length + 100, head: .empty), context: context)
            case .wrongHead:
                answer(
                    .acknowledgement(
                        durableLength: chain.length, head: StreamHashChain.head(of: [9, 9, 9])),
                    context: context)
            case .resumeBelowAcknowledged where frames == 2:
                answer(honest, context: context)
                acknowledged.withLockedValue { $0 = chain.length }
                context.close(promise: nil)
            default:
                answer(honest, context: context)
            }
        case .sync:
            answer(.acknowledgement(durableLength: chain.length, head: chain.head), context: context)
        default:
            context.close(promise: nil)
        }
    }

    private func answer(_ frame: Frame, context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
    }
}
