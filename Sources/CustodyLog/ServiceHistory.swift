/// The services' watchdog history as the custody log tells it, kept across boots (and across a lost system disk)
/// because the log is: each service records `service.started` (with the boot's id) and `service.stopped`, and
/// `watchdog.check-failed` / `watchdog.check-passed` when its own checks change. A start that follows a start of the
/// same service without a stop between is a run that ended without stopping: killed by its watchdog or crashed (the
/// same boot), or cut by a power loss or reset (a later boot).
///
/// Built by reading the records in order (at opening, then each append): memory is one entry per service.
public struct ServiceHistory: Sendable, Hashable, Codable {
    /// Boots seen: each change of boot id between starts.
    public var boots = 0
    /// Starts of any service.
    public var starts = 0
    /// Runs that ended without stopping.
    public var restarts = 0
    /// Times a service's own checks failed (its watchdog withheld).
    public var checkFailures = 0
    /// The latest of these, with the service and the record's time: why the last restart or failed check happened.
    public var lastReason: String?

    /// Per service: whether its last record was a start (a run in progress), and that start's boot id.
    private var running: [String: String] = [:]
    private var lastBootID: String?

    enum CodingKeys: String, CodingKey {
        case boots, starts, restarts, checkFailures, lastReason
    }

    public init() {}

    /// The events this history reads.
    public static let events: Set<String> = [
        "service.started", "service.stopped", "watchdog.check-failed", "watchdog.check-passed",
    ]

    /// Takes the next record of the log into account.
    public mutating func observe(_ record: CustodyRecord) {
        guard Self.events.contains(record.event), let service = record.fields["service"] else { return }
        switch record.event {
        case "service.started":
            let bootID = record.fields["boot-id"] ?? ""
            starts += 1
            if bootID != lastBootID {
                if !bootID.isEmpty { boots += 1 }
                lastBootID = bootID
            }
            if let previousBoot = running[service] {
                restarts += 1
                lastReason =
                    "\(record.time) \(service): "
                    + (previousBoot == bootID
                        ? "restarted without stopping (killed by its watchdog, or crashed)"
                        : "did not stop before the next boot (power cut, reset, or a hang the hardware watchdog ended)")
            }
            running[service] = bootID
        case "service.stopped":
            running[service] = nil
        case "watchdog.check-failed":
            checkFailures += 1
            lastReason = "\(record.time) \(service): \(record.fields["reason"] ?? "its check failed")"
        default:
            break
        }
    }
}
