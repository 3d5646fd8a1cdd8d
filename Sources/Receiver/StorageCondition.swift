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
        /// The message of the failure that began the failing state; nil while storage works.
        var firstError: String?
        /// The kind of the latest failure: another kind is logged again.
        var latestKind: StreamStorageError.Kind?
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
        // The gauge changes inside the lock: connections on other event loops succeed and fail at once, and the
        // gauge must end where the state does.
        let isNew = state.withLockedValue { state in
            state.failures += 1
            if state.firstError == nil {
                state.firstError = error.description
                failingGauge.record(1)
            }
            guard state.latestKind != error.kind else { return false }
            state.latestKind = error.kind
            return true
        }
        if isNew {
            logger.error(
                "storage is failing; appends are refused, and senders retry, until it works again",
                metadata: ["error": "\(error)"])
        }
    }

    /// Appended bytes were made durable: if writes were failing, that ends, and it is logged once. Nothing less ends
    /// it: opening a stream on a full array succeeds (it only reads), and so do appends into the appender's buffer;
    /// the flush after them is what fails.
    func appended(logger: Logger) {
        let ended = state.withLockedValue { state -> (String, Int)? in
            guard let firstError = state.firstError else { return nil }
            let ended = (firstError, state.failures)
            state = State()
            failingGauge.record(0)
            return ended
        }
        guard let (message, failures) = ended else { return }
        logger.notice(
            "storage works again", metadata: ["failed-operations": "\(failures)", "first-error": "\(message)"])
    }
}
