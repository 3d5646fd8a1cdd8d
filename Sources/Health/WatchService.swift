import Attestation
import CryptoPrimitives
import DurableFiles
import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import NIOCore
import NIOPosix
import Prometheus
import ReplicationTransport
import ServiceLifecycle
import Synchronization
import SystemPackage

/// `saatkond watch` (at home): receives the appliances' heartbeats over HTTPS with mutual TLS (their client
/// certificates from `appliance-ca`), checks each with that appliance's attestation key, and runs the dead man's
/// switch (``HeartbeatWatch``): an appliance silent for two periods, sending stale heartbeats, or reporting trouble
/// is an alarm — a log line when it is raised and when it clears, `status.json` for `saatkond watch --check` (a cron's
/// exit status), and `saatkond_watch_alarm` on the metrics.
public struct WatchService: Sendable {
    let configuration: WatchConfiguration
    let logger: Logger

    public init(configuration: WatchConfiguration, logger: Logger = Logger(label: "saatkond.watch")) {
        self.configuration = configuration
        self.logger = logger
    }

    public func run(onListening: @escaping @Sendable (SocketAddress) -> Void = { _ in }) async throws {
        var keys: [(name: String, key: P256PublicKey)] = []
        for appliance in configuration.appliances {
            let pem = try String(contentsOfFile: appliance.publicKey, encoding: .utf8)
            keys.append((appliance.name, try P256PublicKey(pemRepresentation: pem)))
        }
        let now = Int64(Date().timeIntervalSince1970)
        var heartbeats = HeartbeatWatch(
            appliances: configuration.appliances.map { .init(name: $0.name, period: Int64($0.period)) }, now: now)
        let statusFile = FilePath(configuration.state).appending("status.json")
        // The sequences accepted before this start: a heartbeat recorded then is not accepted again now.
        if let data = FileManager.default.contents(atPath: statusFile.string),
            let earlier = try? JSONDecoder().decode(StatusFile.self, from: data)
        {
            heartbeats.restore(
                lastSequences: Dictionary(
                    earlier.appliances.compactMap { status in status.lastSequence.map { (status.appliance, $0) } },
                    uniquingKeysWith: max))
        }
        let watch = WatchedAppliances(keys: keys, watch: heartbeats, statusFile: statusFile, logger: logger)
        try FileManager.default.createDirectory(atPath: configuration.state, withIntermediateDirectories: true)
        let router = Router()
        router.post("heartbeat") { request, _ in await watch.heartbeat(request) }
        let tls = try ReplicationTLS.receiverConfiguration(
            TLSIdentityFiles(
                certificate: configuration.certificate, privateKey: configuration.privateKey,
                trustedAuthorities: configuration.applianceAuthority))
        let group = MultiThreadedEventLoopGroup.singleton
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(
                service: Application(
                    router: router,
                    server: try .tls(.http1(configuration: .init(idleTimeout: .seconds(30))), tlsConfiguration: tls),
                    configuration: .init(
                        address: .hostname(configuration.host, port: configuration.port),
                        availableConnectionsDelegate: .maximum(HealthService.maximumConnections, logger: logger)),
                    onServerRunning: { channel in channel.localAddress.map(onListening) },
                    eventLoopGroupProvider: .shared(group), logger: logger)),
            .init(service: WatchTicker(watch: watch)),
        ]
        if let host = configuration.metricsHost, let port = configuration.metricsPort {
            let metrics = Router()
            metrics.get("metrics") { _, _ in watch.metricsText() }
            services.append(
                .init(
                    service: Application(
                        router: metrics,
                        configuration: .init(
                            address: .hostname(host, port: port),
                            availableConnectionsDelegate: .maximum(8, logger: logger)),
                        eventLoopGroupProvider: .shared(group), logger: logger)))
        }
        try await ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        ).run()
    }

    /// `saatkond watch --check`: one line per appliance from the status file; nil when every appliance is well and
    /// the watch wrote within `maximumAge` seconds, else why not.
    public static func check(state: String, maximumAge: Int64, now: Int64) -> (lines: [String], alarm: String?) {
        guard let data = FileManager.default.contents(atPath: "\(state)/status.json"),
            let file = try? JSONDecoder().decode(StatusFile.self, from: data)
        else {
            return ([], "no status in \(state)/status.json: is saatkond watch running?")
        }
        let lines = file.appliances.map { status in
            let age = status.lastReceived.map { "last heartbeat \(now - $0) s ago" } ?? "no heartbeat yet"
            return "\(status.appliance): \(status.alarm.map { "ALARM \($0)" } ?? "ok"), \(age)"
        }
        if now - file.written > maximumAge {
            return (lines, "the watch last wrote its status \(now - file.written) s ago: is it running?")
        }
        let alarms = file.appliances.compactMap { status in status.alarm.map { "\(status.appliance): \($0)" } }
        return (lines, alarms.isEmpty ? nil : alarms.joined(separator: "; "))
    }
}

struct StatusFile: Codable {
    var written: Int64
    var appliances: [HeartbeatWatch.Status]
}

/// The watch's state, shared by the heartbeat route, the ticker and the metrics.
final class WatchedAppliances: Sendable {
    let keys: [(name: String, key: P256PublicKey)]
    let watch: Mutex<HeartbeatWatch>
    let statusFile: FilePath
    let logger: Logger
    let registry = PrometheusCollectorRegistry()

    init(keys: [(name: String, key: P256PublicKey)], watch: HeartbeatWatch, statusFile: FilePath, logger: Logger) {
        self.keys = keys
        self.watch = Mutex(watch)
        self.statusFile = statusFile
        self.logger = logger
    }

    /// The largest heartbeat read: a few kilobytes are plenty.
    static let maximumBytes = 64 * 1024

    func heartbeat(_ request: Request) async -> Response {
        let now = Int64(Date().timeIntervalSince1970)
        let token: CompactJWS
        do {
            let body = try await request.body.collect(upTo: Self.maximumBytes)
            token = try CompactJWS(parsing: String(buffer: body).trimmingCharacters(in: .whitespacesAndNewlines))
        } catch {
            return Self.text(.badRequest, "not a heartbeat: \(error)\n")
        }
        guard
            let (name, claims) = keys.lazy.compactMap({ entry in
                (try? AttestationToken.claims(of: token, key: entry.key)).map { (entry.name, $0) }
            }).first
        else {
            logger.warning("a heartbeat signed by no watched appliance was refused")
            return Self.text(.forbidden, "signed by no appliance this watch knows\n")
        }
        guard let sequence = HeartbeatSequence.sequence(of: claims) else {
            logger.warning("a token that is not a heartbeat was refused", metadata: ["appliance": "\(name)"])
            return Self.text(.badRequest, "not a heartbeat: a quote, or an eat_nonce that is not its time\n")
        }
        let outcome = watch.withLock {
            $0.received(from: name, sequence: sequence, issuedAt: claims.issuedAt, trouble: claims.trouble, now: now)
        }
        switch outcome {
        case .success(let changes):
            log(changes)
            return Response(status: .noContent)
        case .failure(let error):
            logger.warning("heartbeat refused", metadata: ["appliance": "\(name)", "reason": "\(error)"])
            return Self.text(.conflict, "\(error)\n")
        }
    }

    /// Looks at every appliance, logs what changed, and writes the status file.
    func tick() {
        let now = Int64(Date().timeIntervalSince1970)
        let (changes, statuses) = watch.withLock { ($0.tick(now: now), $0.all) }
        log(changes)
        let file = StatusFile(written: now, appliances: statuses)
        do {
            let data = try JSONEncoder().encode(file)
            try data.withUnsafeBytes { try FileSystemCalls.writeAtomically($0, to: statusFile) }
        } catch {
            logger.error("the status file could not be written", metadata: ["error": "\(error)"])
        }
    }

    func log(_ changes: [HeartbeatWatch.Change]) {
        for change in changes {
            switch change {
            case .raised(let appliance, let reason):
                logger.critical("ALARM", metadata: ["appliance": "\(appliance)", "reason": "\(reason)"])
            case .cleared(let appliance):
                logger.notice("alarm cleared", metadata: ["appliance": "\(appliance)"])
            }
        }
    }

    func metricsText() -> Response {
        let now = Int64(Date().timeIntervalSince1970)
        for status in watch.withLock({ $0.all }) {
            registry.makeGauge(descriptor: Self.alarm, labels: [("appliance", status.appliance)]).set(
                Int64(status.alarm == nil ? 0 : 1))
            registry.makeGauge(descriptor: Self.age, labels: [("appliance", status.appliance)]).set(
                status.lastReceived.map { now - $0 } ?? -1)
        }
        return Self.text(.ok, registry.emitToString())
    }

    static var alarm: MetricNameDescriptor {
        MetricNameDescriptor(
            metricName: "saatkond_watch_alarm", unitName: "",
            helpText: "1 while the appliance is silent, stale or in trouble")
    }
    static var age: MetricNameDescriptor {
        MetricNameDescriptor(
            metricName: "saatkond_watch_heartbeat_age_seconds", unitName: "",
            helpText: "Seconds since the appliance's last heartbeat arrived (-1: none yet)")
    }

    static func text(_ status: HTTPResponse.Status, _ message: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: message)))
    }
}

/// Looks at the appliances once a second.
struct WatchTicker: Service {
    let watch: WatchedAppliances

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            watch.tick()
            try? await Task.sleep(for: .seconds(1))
        }
    }
}
