import ErasureStore
import Foundation
import Replication
import ReplicationProtocol
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

    func take() -> Bool {
        count.withLock { count in
            guard count > 0 else { return false }
            count -= 1
            return true
        }
    }
}

/// A store whose appenders fail to open while the budget lasts, as an array whose members are full does; the
/// real condition is shown at the store (FullAndFailingMemberTests), this is what the receiver and sender do
/// with it.
private struct FailingStorage: StreamStorage {
    let store: ErasureCodedStore
    let failures: FailureBudget

    func openAppender(for name: StreamName) throws(StreamStorageError) -> any StreamAppender {
        if failures.take() {
            throw .io("appending to \(name)", path: "/srv/saatkond/bay-03", error: Errno.noSpace)
        }
        return try store.openAppender(for: name)
    }

    func openReader(for name: StreamName) throws(StreamStorageError) -> any StreamReader {
        try store.openReader(for: name)
    }
}
