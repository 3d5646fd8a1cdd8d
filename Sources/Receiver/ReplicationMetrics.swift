import Metrics
import ReplicationProtocol

/// The receiver's metrics, for home's monitoring (exported by the health service's Prometheus endpoint):
///
/// - `saatkond_replication_bytes_total`: stream bytes received,
/// - `saatkond_replication_acknowledgements_total`: acknowledgements sent,
/// - `saatkond_replication_refusals_total{reason}`: connections refused, by protocol error code,
/// - `saatkond_replication_connections`: connections open now,
/// - `saatkond_storage_failing` and `saatkond_storage_failures_total{kind}` (see ``StorageCondition``).
///
/// No label names a stream: the number of streams is the senders' to choose, and a registry with a series per stream
/// would grow without bound (the report's `streams` answers for the streams a verifier names). The factory is
/// injected so that tests count without touching the process-wide metrics system.
public struct ReplicationMetrics: Sendable {
    private let factory: any MetricsFactory
    let connections: Meter
    /// Whether storage works, for all the connections that share these metrics.
    let storage: StorageCondition

    /// Metrics made by `factory` (the process's bootstrapped one by default).
    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
        connections = Meter(label: "saatkond_replication_connections", factory: factory)
        storage = StorageCondition(factory: factory)
    }

    /// The counters a connection adds to, made once when it names its stream rather than for every frame.
    struct StreamCounters {
        let bytes: Counter
        let acknowledgements: Counter
    }

    func streamCounters() -> StreamCounters {
        StreamCounters(
            bytes: Counter(label: "saatkond_replication_bytes_total", factory: factory),
            acknowledgements: Counter(label: "saatkond_replication_acknowledgements_total", factory: factory))
    }

    func refused(_ code: ProtocolErrorCode) {
        Counter(label: "saatkond_replication_refusals_total", dimensions: [("reason", "\(code)")], factory: factory)
            .increment()
    }
}
