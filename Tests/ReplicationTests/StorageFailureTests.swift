import ErasureStore
import Foundation
import Logging
import MetricsTestKit
import Receipts
import Receiver
import ReplicationClients
import ReplicationProtocol
import ReplicationTransport
import StreamStore
import Synchronization
import SystemPackage
import Testing

/// A full or failing array is a state the sender waits out, not a reason to give up at the first refusal: a
/// technician may replace the disk while the sender backs off.
@Suite("Storage failures and the sender")
struct StorageFailureTests {
    @Test("a sender refused with storage-failure backs off, retries, and completes once storage works again")
    func retriesUntilStorageWorks() async throws {
        let failures = FailureBudget(3)
        let harness = try await ReceiverHarness(wrapping: { FailingStorage(store: $0, failures: failures) })
        do {
            let bytes = [UInt8](repeating: 3, count: 200_000)
            let report = try await harness.send(
                bytes, to: "ee.full", retry: RetryPolicy(initialDelay: .milliseconds(20), giveUpAfter: .seconds(30)))
            #expect(report.connections == 4, "\(report)")
            #expect(failures.remaining == 0)
            #expect(try await harness.restore("ee.full") == bytes)
        } catch {
            await harness.stop()
            throw error
        }
        await harness.stop()
    }

    @Test(
        "failing writes are logged when they begin and when they end, not for every refusal, and shown in metrics",
        arguments: [FailingStorage.Phase.open, .flush])
    fileprivate func conditionIsLoggedOnceAndMeasured(phase: FailingStorage.Phase) async throws {
        let log = RecordedLog()
        let metrics = TestMetrics()
        let failures = FailureBudget(0)
        let harness = try await ReceiverHarness(
            metrics: ReplicationMetrics(factory: metrics), logger: Logger(label: "test-receiver") { _ in log },
            wrapping: { FailingStorage(store: $0, failures: failures, phase: phase) })
        do {
            let failing = try metrics.expectGauge("saatkond_storage_failing")
            let kept = [UInt8](repeating: 5, count: 3000)
            _ = try await harness.send(kept, to: "ee.kept")

            failures.set(.max)
            let quickly = RetryPolicy(
                initialDelay: .milliseconds(20), maximumDelay: .milliseconds(50), giveUpAfter: .milliseconds(500))
            await #expect(throws: ReplicationError.self) {
                _ = try await harness.send([1], to: "ee.full", retry: quickly)
            }
            let refusals = metrics.counterTotal(
                label: "saatkond_replication_refusals_total", dimensions: [("reason", "storage-failure")])
            #expect(refusals >= 3, "the sender did not retry: \(refusals) refusals")
            #expect(failing.lastValue == 1)
            // A restore reads from the array whose writes fail: that says nothing about writes.
            #expect(try await harness.restore("ee.kept") == kept)
            #expect(failing.lastValue == 1, "a read ended the failing state")
            #expect(log.messages(containing: "storage works again").isEmpty, "a read ended the failing state")

            failures.set(0)
            let bytes = [UInt8](repeating: 9, count: 1000)
            _ = try await harness.send(bytes, to: "ee.full", retry: quickly)
            #expect(failing.lastValue == 0, "the gauge still shows a failure after a success")
            #expect(
                metrics.counterTotal(label: "saatkond_storage_failures_total", dimensions: [("kind", "io")])
                    == refusals)
            #expect(log.messages(containing: "storage is failing").count == 1, "\(log.messages(containing: ""))")
            #expect(log.messages(containing: "storage works again").count == 1, "\(log.messages(containing: ""))")
            #expect(log.messages(containing: "refusing sender").isEmpty, "each refusal was logged again")
        } catch {
            await harness.stop()
            throw error
        }
        await harness.stop()
    }

    @Test("storage that keeps failing ends the send after the retry period, saying why")
    func givesUpAfterThePeriod() async throws {
        let harness = try await ReceiverHarness(wrapping: { FailingStorage(store: $0, failures: FailureBudget(.max)) })
        do {
            _ = try await harness.send(
                [1], to: "ee.full",
                retry: RetryPolicy(
                    initialDelay: .milliseconds(20), maximumDelay: .milliseconds(50), giveUpAfter: .seconds(1)))
            Issue.record("a send to failing storage succeeded")
        } catch let error as ReplicationError {
            #expect(error.description.contains("gave up after"), "\(error)")
            #expect(error.description.contains("storage-failure"), "\(error)")
            #expect(error.description.contains("No space left on device"), "\(error)")
        }
        await harness.stop()
    }
}

/// How many more opens fail.
final class FailureBudget: Sendable {
    private let count: Mutex<Int>

    init(_ count: Int) { self.count = Mutex(count) }

    var remaining: Int { count.withLock { $0 } }

    func set(_ remaining: Int) { count.withLock { $0 = remaining } }

    func take() -> Bool {
        count.withLock { count in
            guard count > 0 else { return false }
            count -= 1
            return true
        }
    }
}

/// A store whose appenders fail to open, or whose flushes fail, while the budget lasts: an array with members gone,
/// or full. The real conditions are shown at the store (AbsentMemberTests, FullAndFailingMemberTests); this is what
/// the receiver and the sender do with them.
fileprivate struct FailingStorage: StreamStorage {
    /// Where the failure comes: opening the stream (members gone), or making appended bytes durable (members full:
    /// opening an existing stream only reads, and succeeds).
    enum Phase: Sendable, CustomStringConvertible {
        case open, flush
        var description: String { self == .open ? "at open" : "at flush" }
    }

    let store: ErasureCodedStore
    let failures: FailureBudget
    var phase = Phase.open

    func openAppender(for name: StreamName) throws(StreamStorageError) -> any StreamAppender {
        if phase == .open, failures.take() { throw Self.full(name) }
        let appender = try store.openAppender(for: name)
        guard phase == .flush else { return appender }
        let failures = self.failures
        return WrappedAppender(appender) { () throws(StreamStorageError) in
            if failures.take() { throw Self.full(name) }
        }
    }

    static func full(_ name: StreamName) -> StreamStorageError {
        .io("appending to \(name)", path: "/srv/saatkond/bay-03", error: Errno.noSpace)
    }

    func openReader(for name: StreamName) throws(StreamStorageError) -> any StreamReader {
        try store.openReader(for: name)
    }

    func summaries(
        after: StreamName?, limit: Int, where include: (StreamName) -> Bool
    ) throws(StreamStorageError) -> [StreamSummary] {
        try store.summaries(after: after, limit: limit, where: include)
    }
}

/// The messages a logger was given, for tests that count what was logged.
final class RecordedLog: LogHandler, Sendable {
    private let recorded = Mutex<[String]>([])

    var logLevel: Logger.Level {
        get { .trace }
        set {}
    }
    var metadata: Logger.Metadata {
        get { [:] }
        set {}
    }
    subscript(metadataKey _: String) -> Logger.Metadata.Value? {
        get { nil }
        set {}
    }

    func log(event: LogEvent) {
        recorded.withLock { $0.append("\(event.message)") }
    }

    func messages(containing text: String) -> [String] {
        recorded.withLock { $0.filter { text.isEmpty || $0.contains(text) } }
    }
}
