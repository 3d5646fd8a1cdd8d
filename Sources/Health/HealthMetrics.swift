import Attestation
import Keys
import Prometheus
import Synchronization

/// The figures home's monitoring scrapes from `/metrics`: the key state, the array's margin, the disks' states, the
/// watchdog history, the custody log's length and copies, and the reports served (ingest's replication and storage
/// figures follow, from its metrics socket). Labels are states and bay names only: no secret, no stream, no content.
final class HealthMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let reports: Counter
    private let refusedReports: Counter
    private let reportSeconds: DurationHistogram
    private let margin: Gauge
    private let keyStates: [String: Gauge]
    /// The disk states seen so far (a handful: the lifecycle's states).
    private let diskStates = Mutex<Set<String>>([])

    static let keyStateNames = ["unprovisioned", "unsealed", "locked", "zeroized", "unreachable"]

    init() {
        reports = registry.makeCounter(descriptor: Self.name("saatkond_attestation_reports_total", "Reports signed"))
        refusedReports = registry.makeCounter(
            descriptor: Self.name(
                "saatkond_attestation_reports_refused_total", "Report requests refused, or failed for want of a part"))
        reportSeconds = registry.makeDurationHistogram(
            descriptor: Self.name(
                "saatkond_attestation_report_seconds", "Time to make a report: the quote, the facts and the signature"),
            buckets: [
                .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
                .milliseconds(500), .seconds(1), .seconds(5),
            ])
        margin = registry.makeGauge(
            descriptor: Self.name("saatkond_array_redundancy_margin", "Members the array can still lose (-1: unknown)"))
        margin.set(Int64(-1))
        var gauges: [String: Gauge] = [:]
        for state in Self.keyStateNames {
            gauges[state] = registry.makeGauge(
                descriptor: Self.keyState, labels: [("state", state)])
        }
        keyStates = gauges
    }

    static var keyState: MetricNameDescriptor {
        name("saatkond_keys_state", "1 for the keys service's state, 0 for the others")
    }
    static var disksByState: MetricNameDescriptor { name("saatkond_disks", "Bays by their disk's state") }

    /// A name without a unit: the units are in the names (`_total`, `_seconds`), as Prometheus's conventions have them.
    static func name(_ metric: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: metric, unitName: "", helpText: help)
    }

    func reportMade(after duration: Duration) {
        reports.increment()
        reportSeconds.record(duration)
    }

    func reportRefused() {
        refusedReports.increment()
    }

    /// Sets the gauges from what the services say now; `ingestAnswered` is nil when no ingest socket is configured.
    func update(keyState: String, facts: ApplianceFacts, ingestAnswered: Bool? = nil) {
        for (state, gauge) in keyStates { gauge.set(Int64(state == keyState ? 1 : 0)) }
        margin.set(Int64(facts.array?.margin ?? -1))
        if let ingestAnswered {
            registry.makeGauge(descriptor: Self.name("saatkond_ingest_up", "1 when ingest answered its figures"))
                .set(Int64(ingestAnswered ? 1 : 0))
        }
        if let watchdog = facts.watchdog {
            registry.makeGauge(
                descriptor: Self.name(
                    "saatkond_watchdog_restarts", "Service runs that ended without stopping, across boots")
            )
            .set(Int64(watchdog.restarts))
            registry.makeGauge(
                descriptor: Self.name("saatkond_watchdog_check_failures", "Times a service's own checks failed")
            )
            .set(Int64(watchdog.checkFailures ?? 0))
            registry.makeGauge(descriptor: Self.name("saatkond_boots", "Boots the custody log has seen"))
                .set(Int64(watchdog.boots ?? 0))
        }
        if let audit = facts.audit {
            registry.makeGauge(descriptor: Self.name("saatkond_audit_records", "Records in the custody log"))
                .set(Int64(audit.records))
            registry.makeGauge(
                descriptor: Self.name("saatkond_audit_copies", "Members holding a copy of the custody log")
            )
            .set(Int64(audit.copies ?? 0))
        }
        if let disks = facts.disks {
            var counts: [String: Int64] = [:]
            for disk in disks.values { counts[disk.state, default: 0] += 1 }
            // A state no bay is in any more reads 0, not the count it last had.
            let states = diskStates.withLock { seen in
                seen.formUnion(counts.keys)
                return seen
            }
            for state in states {
                registry.makeGauge(descriptor: Self.disksByState, labels: [("state", state)]).set(counts[state] ?? 0)
            }
        }
    }

    func text() -> String {
        registry.emitToString()
    }
}
