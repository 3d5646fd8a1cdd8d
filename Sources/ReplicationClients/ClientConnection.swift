import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import ReplicationProtocol
import ReplicationTransport

/// Where a client connects and with which TLS identity.
public struct ReplicationEndpoint: Sendable {
    /// The appliance's host name or IP address; a host name is also checked against its certificate.
    public var host: String
    /// The replication port.
    public var port: Int
    /// The sender's TLS configuration (see ``ReplicationTLS/senderConfiguration(_:)``).
    public var tls: TLSConfiguration
    /// How long connecting and the TLS handshake may take.
    public var connectTimeout: TimeAmount

    /// Creates an endpoint.
    public init(host: String, port: Int, tls: TLSConfiguration, connectTimeout: TimeAmount = .seconds(10)) {
        self.host = host
        self.port = port
        self.tls = tls
        self.connectTimeout = connectTimeout
    }
}

/// Opens a client connection: TCP, TLS 1.3 with both certificates checked, then the frame codec.
///
/// The returned channel is only handed out after the handshake completed: swift-nio-ssl does not apply
/// writability to writes made before that, so writing earlier would defeat backpressure.
enum ClientConnection {
    static func open(
        _ endpoint: ReplicationEndpoint, group: any EventLoopGroup
    ) async throws -> (NIOAsyncChannel<Frame, Frame>, ConnectionDiagnostics) {
        let sslContext: NIOSSLContext
        do {
            sslContext = try NIOSSLContext(configuration: endpoint.tls)
        } catch {
            throw ReplicationError.configuration("the sender's TLS configuration is unusable: \(error)")
        }
        let serverHostname = endpoint.host.isIPAddress ? nil : endpoint.host
        let diagnostics = ConnectionDiagnostics()
        let (channel, handshake): (NIOAsyncChannel<Frame, Frame>, EventLoopFuture<Void>)
        do {
            (channel, handshake) = try await ClientBootstrap(group: group)
                .connectTimeout(endpoint.connectTimeout)
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .connect(host: endpoint.host, port: endpoint.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let handshake = TLSObserver(
                            promise: channel.eventLoop.makePromise(), diagnostics: diagnostics)
                        try channel.pipeline.syncOperations.addHandlers([
                            try NIOSSLClientHandler(context: sslContext, serverHostname: serverHostname),
                            handshake,
                            ByteToMessageHandler(FrameDecoder()),
                            MessageToByteHandler(FrameEncoder()),
                        ])
                        let asyncChannel = try NIOAsyncChannel<Frame, Frame>(wrappingChannelSynchronously: channel)
                        return (asyncChannel, handshake.promise.futureResult)
                    }
                }
        } catch {
            throw ReplicationError.connection(
                "cannot connect to the appliance at \(endpoint.host):\(endpoint.port): \(error)")
        }
        do {
            try await handshake.get()
        } catch {
            try? await channel.channel.close()
            // A reset or a closed socket during the handshake is a peer that went away (a restart), worth retrying;
            // only the TLS layer's own refusal is about certificates.
            if let tlsError = diagnostics.tlsError {
                throw ReplicationError.tlsFailure(tlsError, endpoint: endpoint)
            }
            throw ReplicationError.connection(
                "the connection to \(endpoint.host):\(endpoint.port) broke during the TLS handshake: \(error)")
        }
        return (channel, diagnostics)
    }
}

/// What the TLS layer saw on a connection, kept because the error that reaches the application is often a
/// consequence ("I/O on closed channel") rather than the cause (the peer's TLS alert).
final class ConnectionDiagnostics: Sendable {
    private let firstError = NIOLockedValueBox<(any Error)?>(nil)

    var tlsError: (any Error)? { firstError.withLockedValue { $0 } }

    func record(_ error: any Error) {
        // Only the TLS layer's own refusals (alerts, verification failures) count: an unclean shutdown or a failed
        // system call is a peer that vanished (a crash, a cable), not a certificate problem.
        var isRefusal = false
        if let boringError = error as? BoringSSLError, case .sslError = boringError { isRefusal = true }
        if let sslError = error as? NIOSSLError, case .handshakeFailed(let boringError) = sslError,
            case .sslError = boringError
        {
            isRefusal = true
        }
        // BoringSSL reports a peer that hung up mid-handshake as an SSL error too ("EOF during handshake"); only an
        // alert or a verification failure is a refusal. BoringSSL's errors carry no codes NIOSSL exposes, so the
        // reason's text decides.
        let reason = "\(error)".uppercased()
        guard isRefusal, reason.contains("ALERT") || reason.contains("CERTIFICATE") || reason.contains("VERIFY")
        else { return }
        firstError.withLockedValue { if $0 == nil { $0 = error } }
    }
}

/// Completes a promise when the TLS handshake completes or fails, so the client can wait for it, and records TLS
/// errors for the message the person at the sender reads.
private final class TLSObserver: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    let promise: EventLoopPromise<Void>
    private let diagnostics: ConnectionDiagnostics

    init(promise: EventLoopPromise<Void>, diagnostics: ConnectionDiagnostics) {
        self.promise = promise
        self.diagnostics = diagnostics
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event {
            promise.succeed()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        diagnostics.record(error)
        promise.fail(error)
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(ChannelError.eof)
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        promise.fail(ChannelError.ioOnClosedChannel)
    }
}

extension ReplicationError {
    /// A TLS failure, worded for the person who must fix the certificates.
    static func tlsFailure(_ error: any Error, endpoint: ReplicationEndpoint) -> Self {
        .certificate(
            "the TLS handshake with \(endpoint.host):\(endpoint.port) failed (\(error)); check that the appliance "
                + "trusts the CA that issued this sender's certificate, and that --ca is the CA that issued the "
                + "appliance's certificate")
    }

    /// A connection that broke after the handshake; a rejected client certificate shows up here in TLS 1.3,
    /// because the appliance checks it after the client already considers the handshake done.
    static func broken(
        _ error: any Error, endpoint: ReplicationEndpoint, diagnostics: ConnectionDiagnostics
    ) -> Self {
        if let tlsError = diagnostics.tlsError {
            return tlsFailure(tlsError, endpoint: endpoint)
        }
        if let replicationError = error as? ReplicationError {
            return replicationError
        }
        diagnostics.record(error)
        if let tlsError = diagnostics.tlsError {
            return tlsFailure(tlsError, endpoint: endpoint)
        }
        return .connection("the connection to \(endpoint.host):\(endpoint.port) broke: \(error)")
    }
}

extension String {
    fileprivate var isIPAddress: Bool {
        (try? SocketAddress(ipAddress: self, port: 0)) != nil
    }
}
