import Logging
import Metrics
import NIOConcurrencyHelpers
import StreamStore

/// Whether the receiver's storage takes writes, shared by all connections: a full or failing array is a state,
/// logged when it begins and when it ends, not once for every refused connection of every retrying sender. Only
/// writes (opening for append, appending) begin or end it: a restore that reads from a full array says nothing
/// about whether appends work. A failed read is logged on its own, every time: each is a restore that failed.
///
/// - `saatkond_storage_failing`: 1 while writes fail, 0 once one succeeds again,
/// - `saatkond_storage_failures_total{kind}`: failed storage operations, reads and writes, by kind (io, corrupt,
///   unavailable, …).
final class StorageCondition: Sendable {
    private struct State {
        /// The kind and message of the failure that began the failing state; nil while storage works.
        var failing: (kind: StreamStorageError.Kind, message: String)?
        /// Operations that failed since then.
        var failures = 0
    }

    private let state = NIOLockedValueBox(State())
    private let failingGauge: Gauge
    private let factory: any MetricsFactory

    init(factory: any MetricsFactory) {
        self.factory = factory
        failingGauge = Gauge(label: "saatkond_storage_failing", factory: factory)
        failingGauge.record(0)
    }

    /// A storage operation failed. A write is logged when writes were working, or when the failure is of another
    /// kind; a read, always. Answers about the stream itself (unknown, busy, out of range) say nothing of the
    /// storage and are passed by.
    func failed(_ error: StreamStorageError, writing: Bool, logger: Logger) {
        switch error.kind {
        case .unknownStream, .streamBusy, .outOfRange: return
        default: break
        }
        Counter(
            label: "saatkond_storage_failures_total", dimensions: [("kind", "\(error.kind)")], factory: factory
        ).increment()
        guard writing else {
            logger.error("reading from storage failed", metadata: ["error": "\(error)"])
            return
        }
        let isNew = state.withLockedValue { state in
            state.failures += 1
            guard state.failing?.kind != error.kind else { return false }
            state.failing = (error.kind, error.description)
            return true
        }
        failingGauge.record(1)
        if isNew {
            logger.error(
                "storage is failing; appends are refused, and senders retry, until it works again",
                metadata: ["error": "\(error)"])
        }
    }

    /// A write succeeded: if writes were failing, that ends, and it is logged once.
    func wrote(logger: Logger) {
        let ended = state.withLockedValue { state -> (String, Int)? in
            guard let failing = state.failing else { return nil }
            let ended = (failing.message, state.failures)
            state = State()
            return ended
        }
        guard let (message, failures) = ended else { return }
        failingGauge.record(0)
        logger.notice(
            "storage works again", metadata: ["failed-operations": "\(failures)", "first-error": "\(message)"])
    }
}
