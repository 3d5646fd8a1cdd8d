import ErasureStore
import LocalControl
import Logging
import NIOPosix
import Prometheus
import ServiceLifecycle

/// Ingest's local metrics socket: the replication figures its receiver counts (bytes received, acknowledgements,
/// refusals by reason, connections open, storage failing) and the store's members present and absent, as
/// Prometheus's text, for the health service's `/metrics` (which serves it behind home's mutual TLS). No label names
/// a stream: their number is the senders', and the registry stays bounded whatever it is.
struct MetricsSocket: Service {
    let path: String
    let readers: Set<UInt32>
    let registry: PrometheusCollectorRegistry
    let store: ErasureCodedStore
    let logger: Logger

    func run() async throws {
        let registry = self.registry
        let store = self.store
        let present = registry.makeGauge(
            descriptor: MetricNameDescriptor(
                metricName: "saatkond_storage_members_present", unitName: "",
                helpText: "Members the store has now"))
        let absent = registry.makeGauge(
            descriptor: MetricNameDescriptor(
                metricName: "saatkond_storage_members_absent", unitName: "",
                helpText: "Members the store writes around now (missing, unlabelled, unreadable)"))
        let server = LocalControlServer(
            path: path, mode: 0o666, group: nil, access: LocalAccess(rules: ["metrics": readers]),
            group: MultiThreadedEventLoopGroup.singleton
        ) { _ in
            let away = store.absentMemberIndices().count
            present.set(Int64(store.memberDirectories.count - away))
            absent.set(Int64(away))
            return LocalReply(["text": .string(registry.emitToString())])
        }
        try await server.start()
        logger.info("metrics socket ready", metadata: ["socket": "\(path)"])
        try? await gracefulShutdown()
        try? await server.stop()
    }
}
