import ArgumentParser
import DevelopmentIdentity
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import ReplicationProtocol
import ReplicationTransport
import SystemPackage

/// `IngestBaselines`: the baseline receiver of `Benchmarks/ingest/run`, a SwiftNIO mutual-TLS 1.3 server that speaks
/// just enough of the replication protocol for the real `saatkond send` to push a stream into it, and discards the
/// bytes (see ``DiscardingReceiverHandler``). Against it the sender's rate is that of TLS, framing, hashing and the
/// sender itself, without storage.
///
/// It uses the development identity of a `saatkond dev` state directory, creating it when absent, so that
/// `saatkond send --state DIR` trusts it and is trusted. It prints `listening on HOST:PORT` once bound and runs
/// until it is killed.
@main
struct IngestBaselines: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Receive replication over mutual TLS, acknowledge every frame at once, and store nothing.",
        discussion: "The ingest benchmark's baseline for TLS, framing and the sender, without storage.")

    @Option(help: "The state directory of a development appliance, whose identity is used (created if absent).")
    var state: String

    @Option(help: "The address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "The port to listen on; 0 picks a free one, printed once bound.")
    var port = 0

    func run() async throws {
        let identity = try DevelopmentIdentity.loadOrCreate(in: FilePath(state).appending("identity"))
        let tls = try ReplicationTLS.receiverConfiguration(
            TLSIdentityFiles(
                certificate: identity.applianceCertificate.string, privateKey: identity.applianceKey.string,
                trustedAuthorities: identity.authorityCertificate.string))
        let sslContext = try NIOSSLContext(configuration: tls)
        let report: @Sendable (String) -> Void = { line in
            FileHandle.standardError.write(Data("IngestBaselines: \(line)\n".utf8))
        }
        // The same loop group as `saatkond dev`'s receiver: one event loop per core.
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        NIOSSLServerHandler(context: sslContext),
                        ByteToMessageHandler(FrameDecoder()),
                        MessageToByteHandler(FrameEncoder()),
                        DiscardingReceiverHandler(report: report),
                    ])
                }
            }
            .bind(host: host, port: port)
            .get()
        guard let boundPort = server.localAddress?.port else {
            fatalError("a bound TCP socket always has a local address")
        }
        // Unbuffered, so that a script reading the pipe sees the address at once.
        FileHandle.standardOutput.write(Data("listening on \(host):\(boundPort)\n".utf8))
        try await server.closeFuture.get()
    }
}
