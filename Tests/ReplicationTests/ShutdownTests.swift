import ErasureStore
import Foundation
import StreamStore
import Synchronization
import Testing

/// The receiver's shutdown ends after the storage work its connections left behind, not before.
@Suite("Shutdown")
struct ShutdownTests {
    @Test("an appender that a finished connection handed back is closed before the receiver stops")
    func waitsForTheLastClose() async throws {
        let closes = CloseLog()
        let harness = try await ReceiverHarness(wrapping: { SlowlyClosingStorage(store: $0, closes: closes) })
        _ = try await harness.send(Array(repeating: 7, count: 100_000), to: "ee.shutdown")
        await harness.stop()
        #expect(closes.finished == 1, "the receiver stopped while an appender was still closing")
    }
}

/// Counts appender closes that ran to their end.
private final class CloseLog: Sendable {
    private let count = Mutex(0)

    var finished: Int { count.withLock { $0 } }

    func record() { count.withLock { $0 += 1 } }
}

/// A store whose appenders take a while to close, as one with segments still being written does.
private struct SlowlyClosingStorage: StreamStorage {
    let store: ErasureCodedStore
    let closes: CloseLog

    func openAppender(for name: StreamName) throws(StreamStorageError) -> any StreamAppender {
        WrappedAppender(
            try store.openAppender(for: name),
            closing: { appender in
                usleep(500_000)
                appender.close()
                closes.record()
            })
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
