import ErasureStore
import Foundation
import StoreFormat
import StreamStore
import Testing

@Suite("Group commit")
struct GroupCommitterTests {
    @Test("16 threads appending to one stream each get their bytes durable, and nothing is lost or reordered")
    func concurrentWriters() throws {
        let fixture = try ArrayFixture()
        defer { fixture.remove() }
        let store = try fixture.open()
        let stream = try StreamName("ee.concurrent")
        let committer = GroupCommitter(appender: try store.openAppender(for: stream))
        let writers = 16
        let appendsPerWriter = 40
        let group = DispatchGroup()
        let results = ResultsBox()
        for writer in 0..<writers {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                for index in 0..<appendsPerWriter {
                    // Each record names its writer and sequence, so the stream can be checked afterwards.
                    let record = [UInt8(writer), UInt8(index)] + [UInt8](repeating: UInt8(writer), count: 8190)
                    do {
                        let durable = try committer.appendDurably(record)
                        results.add(durable)
                    } catch {
                        results.fail("\(error)")
                    }
                }
            }
        }
        group.wait()
        committer.close()
        #expect(results.failures.isEmpty, "\(results.failures)")
        let total = writers * appendsPerWriter * 8192
        #expect(results.durable.max() == UInt64(total))
        let bytes = try fixture.open().openReader(for: stream).readAll()
        #expect(bytes.count == total)
        // Every writer's records appear whole and in its own order.
        var nextIndex = [Int](repeating: 0, count: writers)
        for start in stride(from: 0, to: bytes.count, by: 8192) {
            let writer = Int(bytes[start])
            #expect(Int(bytes[start + 1]) == nextIndex[writer])
            nextIndex[writer] += 1
            #expect(bytes[(start + 2)..<(start + 8192)].allSatisfy { $0 == UInt8(writer) })
        }
        #expect(nextIndex.allSatisfy { $0 == appendsPerWriter })
    }
}

/// Collects results from writer threads.
final class ResultsBox: @unchecked Sendable {
    // @unchecked: every access holds `lock`.
    private let lock = NSLock()
    private var durableLengths: [UInt64] = []
    private var failureMessages: [String] = []

    func add(_ durable: UInt64) {
        lock.withLock { durableLengths.append(durable) }
    }

    func fail(_ message: String) {
        lock.withLock { failureMessages.append(message) }
    }

    var durable: [UInt64] { lock.withLock { durableLengths } }
    var failures: [String] { lock.withLock { failureMessages } }
}
