import Attestation
import Foundation
import HashChain
import Hummingbird
import HummingbirdTLS
import Keys
import LivenessGate
import LocalControl
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ReplicationTransport
import ServiceLifecycle
import Synchronization
import Systemd
import Watchdog

/// `saatkond health`: attestation reports and metrics for home, over HTTPS with mutual TLS (a certificate from
/// home's verifier CA), as one systemd service that pets its watchdog only while its event loops and the keys
/// service answer.
///
/// `GET /report?nonce=HEX[&stream=NAME…]` answers a report (`application/jwt`, `docs/attestation.md`); `GET /metrics`
/// Prometheus's text; `GET /audit?from=SEQ` an excerpt of the custody log. Reports cost a TPM quote and a signature, which the TPM makes one at a time: at most
/// ``ReportGate/reports`` are made at once, and more are answered 503 at once rather than queued.
public struct HealthService: Sendable {
    /// The most connections the health port (and a watch's port) holds open at once.
    public static let maximumConnections = 64

    let configuration: HealthConfiguration
    let logger: Logger

    public init(configuration: HealthConfiguration, logger: Logger = Logger(label: "saatkond.health")) {
        self.configuration = configuration
        self.logger = logger
    }

    public func run(onListening: @escaping @Sendable (SocketAddress) -> Void = { _ in }) async throws {
        let keys = KeysClient(socket: configuration.keysSocket)
        // Reports and metrics wait on the keys, disks and reader sockets: on threads of their own, as many as
        // reports may be made at once, so that neither NIO's shared pool nor the watchdog's check waits behind them.
        let work = NIOThreadPool(numberOfThreads: ReportGate.reports)
        work.start()
        let checks = NIOThreadPool(numberOfThreads: 1)
        checks.start()
        let endpoint = ReportEndpoint(
            pool: work, facts: ApplianceFactsSource(disksSocket: configuration.disksSocket),
            keys: keys, ingestMetricsSocket: configuration.ingestMetricsSocket,
            metrics: HealthMetrics(), logger: logger)
        let tls = try ReplicationTLS.receiverConfiguration(
            TLSIdentityFiles(
                certificate: configuration.certificate, privateKey: configuration.privateKey,
                trustedAuthorities: configuration.verifierAuthority))
        let group = MultiThreadedEventLoopGroup.singleton
        let app = Application(
            router: endpoint.router(),
            server: try .tls(.http1(configuration: .init(idleTimeout: .seconds(30))), tlsConfiguration: tls),
            // At most this many connections open; more wait in the kernel's backlog until one closes (idle ones
            // close after 30 s): memory stays bounded under a flood, whatever it costs a verifier in waiting.
            configuration: .init(
                address: .hostname(configuration.host, port: configuration.port),
                availableConnectionsDelegate: .maximum(HealthService.maximumConnections, logger: logger)),
            onServerRunning: { channel in
                if let address = channel.localAddress {
                    _ = try? ServiceManager.notify("READY=1\nSTATUS=serving attestation reports on \(address)")
                    onListening(address)
                }
            }, eventLoopGroupProvider: .shared(group), logger: logger)
        let watchdog = try WatchdogService(
            checks: [EventLoopLivenessCheck(group: group), KeysAnswerCheck(keys: keys, pool: checks)], logger: logger,
            history: configuration.disksSocket.map {
                WatchdogHistory(
                    service: "health", recorder: DisksSocketRecorder(socket: $0),
                    configurationText: configuration.text)
            })
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: watchdog), .init(service: app),
        ]
        if !configuration.heartbeats.isEmpty, let home = configuration.homeAuthority {
            let client = try ReplicationTLS.senderConfiguration(
                TLSIdentityFiles(
                    certificate: configuration.heartbeatCertificate ?? configuration.certificate,
                    privateKey: configuration.heartbeatPrivateKey ?? configuration.privateKey,
                    trustedAuthorities: home))
            services.append(
                .init(
                    service: HeartbeatSender(
                        keys: keys, endpoints: configuration.heartbeats, period: .seconds(configuration.heartbeatEvery),
                        tls: client, logger: logger)))
        }
        try await ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        ).run()
        try? await work.shutdownGracefully()
        try? await checks.shutdownGracefully()
        _ = try? ServiceManager.notify("STOPPING=1\nSTATUS=stopped")
    }
}

/// The report, metrics and audit routes, and what they cost. Reports are made and signed by the keys service (op
/// `report`): this network-facing service only carries them, and has nothing of its own signed.
struct ReportEndpoint: Sendable {
    let pool: NIOThreadPool
    let facts: ApplianceFactsSource
    let keys: KeysClient
    /// Ingest's metrics socket: its replication and storage figures follow the health service's own.
    var ingestMetricsSocket: String? = nil
    let metrics: HealthMetrics
    let logger: Logger
    let gate = ReportGate(limit: ReportGate.reports)
    /// One scrape at a time; another meanwhile is answered 503 at once.
    let metricsGate = ReportGate(limit: 1)
    /// Streams one report may name (`&stream=NAME`, repeated): a report is bounded whatever the number of streams.
    static let maximumStreams = ApplianceFactsSource.maximumStreams

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.get("report") { request, _ in try await report(request) }
        router.get("metrics") { _, _ in try await metricsText() }
        router.get("audit") { request, _ in try await auditExcerpt(request) }
        return router
    }

    /// `GET /audit?from=SEQ[&count=N]`: records `from`… of the custody log, one line each, as the disks service keeps
    /// them (at most 1 000 lines and 1 MiB), for `saatkond verify --audit` against a report's head.
    func auditExcerpt(_ request: Request) async throws -> Response {
        guard let from = request.uri.queryParameters["from"].flatMap({ Int64(String($0)) }), from >= 1 else {
            return Self.text(.badRequest, "give ?from= with the first record's number (1 or more)\n")
        }
        let count = request.uri.queryParameters["count"].flatMap { Int64(String($0)) } ?? 1_000
        guard gate.enter() else {
            return Self.text(.serviceUnavailable, "reports are being made for other verifiers; ask again in a moment\n")
        }
        defer { gate.leave() }
        do {
            let lines = try await pool.runIfActive { try facts.auditExcerpt(from: from, count: count) }
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; charset=utf-8"
            let body = lines.map { $0 + "\n" }.joined()
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
        } catch {
            return Self.text(.serviceUnavailable, "no excerpt of the custody log: \(error)\n")
        }
    }

    func report(_ request: Request) async throws -> Response {
        guard let hex = request.uri.queryParameters["nonce"].map(String.init), let nonce = Hex.decode(hex.lowercased()),
            (1...AttestationReporter.maximumNonceByteCount).contains(nonce.count)
        else {
            metrics.reportRefused()
            return Self.text(
                .badRequest,
                "give ?nonce= with 1…\(AttestationReporter.maximumNonceByteCount) bytes in hexadecimal\n")
        }
        let streams = request.uri.queryParameters.getAll("stream").map { String($0) }
        guard streams.count <= Self.maximumStreams else {
            metrics.reportRefused()
            return Self.text(.badRequest, "at most \(Self.maximumStreams) streams in one report\n")
        }
        guard gate.enter() else {
            metrics.reportRefused()
            return Self.text(.serviceUnavailable, "reports are being made for other verifiers; ask again in a moment\n")
        }
        defer { gate.leave() }
        let started = ContinuousClock.now
        do {
            // The keys socket and the disks socket are blocking calls: off the event loops and the async pool.
            let token = try await pool.runIfActive { try keys.report(nonce: nonce, streams: streams) }
            metrics.reportMade(after: ContinuousClock.now - started)
            var headers = HTTPFields()
            headers[.contentType] = "application/jwt"
            return Response(
                status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: token.compact + "\n")))
        } catch {
            metrics.reportRefused()
            logger.error("no report could be made", metadata: ["error": "\(error)"])
            return Self.text(.serviceUnavailable, "no report could be made: \(error)\n")
        }
    }

    func metricsText() async throws -> Response {
        guard metricsGate.enter() else { return Self.text(.serviceUnavailable, "a scrape is under way\n") }
        defer { metricsGate.leave() }
        let socket = ingestMetricsSocket
        let gathered = try await pool.runIfActive { () -> (String, ApplianceFacts, String?) in
            let state = (try? keys.status())?["state"]?.stringValue ?? "unreachable"
            let ingest = socket.flatMap {
                try? LocalControlClient.request(path: $0, op: "metrics", body: [:], timeout: .seconds(5))["text"]?
                    .stringValue
            }
            return (state, facts.gather(), ingest)
        }
        metrics.update(keyState: gathered.0, facts: gathered.1, ingestAnswered: socket == nil ? nil : gathered.2 != nil)
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; version=0.0.4"
        let text = metrics.text() + (gathered.2 ?? "")
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func text(_ status: HTTPResponse.Status, _ message: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: message)))
    }
}

/// At most `limit` requests of a kind in the making at once.
final class ReportGate: Sendable {
    /// Reports at once: the TPM makes one quote at a time, so a second waits for the first, and a third is refused.
    static let reports = 2
    let limit: Int
    private let inFlight = Mutex(0)

    init(limit: Int) {
        self.limit = limit
    }

    func enter() -> Bool {
        inFlight.withLock { count in
            guard count < limit else { return false }
            count += 1
            return true
        }
    }

    func leave() {
        inFlight.withLock { $0 -= 1 }
    }
}

/// Passes while the keys service answers its status: without it no report can be signed.
struct KeysAnswerCheck: LivenessCheck {
    let keys: KeysClient
    /// A thread of its own: a check waiting behind the reports would fail for their sake.
    let pool: NIOThreadPool

    func check(deadline: Duration) async -> LivenessResult {
        let client = KeysClient(socket: keys.socket, timeout: deadline)
        do {
            _ = try await pool.runIfActive { try client.status() }
            return .passed
        } catch {
            return .failed(reason: "the keys service does not answer at \(keys.socket): \(error)")
        }
    }
}
