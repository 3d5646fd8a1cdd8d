import Foundation
import Receipts
import Receiver
import ReplicationClients
import ReplicationTransport
import Synchronization
import SystemPackage
import Testing

/// "Many concurrent senders share the bandwidth fairly", measured: N senders push the same amount at once to distinct
/// streams over real loopback TLS into the real store; at the moment the first of them has everything acknowledged,
/// each sender's acknowledged (durable) bytes are its share, and Jain's fairness index over the shares,
/// (Σx)² / (n·Σx²), is 1 when all are equal and 1/n when one sender has everything.
@Suite("Fairness among concurrent senders")
struct FairnessTests {
    static let senders = 8
    static let bytesEach = 32 << 20

    @Test("8 senders of 32 MiB each: when the first is done, Jain's index over the durable bytes is at least 0.8")
    func eightSenders() async throws {
        let shares = try await ReceiverHarness.run { harness in try await Self.race(harness) }
        let jain = Self.jainIndex(shares)
        let ratio = Double(shares.min()!) / Double(shares.max()!)
        let mib = shares.map { String(format: "%.1f", Double($0) / 1_048_576) }
        print(
            "fairness: jain=\(String(format: "%.3f", jain)) min/max=\(String(format: "%.3f", ratio)) "
                + "acknowledged MiB when the first finished: \(mib.joined(separator: " "))")
        #expect(jain >= 0.8, "Jain's index \(jain) over \(mib) MiB")
        #expect(ratio >= 0.3, "min/max \(ratio) over \(mib) MiB")
    }

    @Test("Jain's index: equal shares give 1, one sender with everything gives 1/n")
    func index() {
        #expect(Self.jainIndex([5, 5, 5, 5]) == 1)
        #expect(Self.jainIndex([8, 0, 0, 0]) == 0.25)
        #expect(abs(Self.jainIndex([2, 1]) - 0.9) < 1e-12)
    }

    static func jainIndex(_ shares: [UInt64]) -> Double {
        let values = shares.map { Double($0) }  // Not `map(Double.init)`: for UInt64 that is Double(bitPattern:).
        let sum = values.reduce(0, +)
        let squares = values.reduce(0) { $0 + $1 * $1 }
        return squares == 0 ? 1 : sum * sum / (Double(values.count) * squares)
    }

    /// Runs the senders at once and returns every sender's acknowledged bytes at the moment the first one had all of
    /// its bytes acknowledged.
    static func race(_ harness: ReceiverHarness) async throws -> [UInt64] {
        // The inputs exist before any sender starts, so that no sender gets a head start while others write theirs.
        let random = try #require(FileHandle(forReadingAtPath: "/dev/urandom"))
        defer { try? random.close() }
        let inputs = try (0..<senders).map { index in
            let path = "\(harness.scratch.path)/fair-\(index)"
            try random.readData(ofLength: bytesEach).write(to: URL(fileURLWithPath: path))
            return path
        }
        let ledger = ShareLedger(senders: senders, total: UInt64(bytesEach))
        let endpoint = try harness.endpoint()
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            for (index, path) in inputs.enumerated() {
                tasks.addTask {
                    let descriptor = try FileDescriptor.open(FilePath(path), .readOnly)
                    defer { try? descriptor.close() }
                    let report = try await StreamSender(endpoint: endpoint).send(
                        stream: "ee.fair.\(index)", from: descriptor
                    ) { progress in
                        ledger.record(sender: index, acknowledged: progress.bytesAcknowledged)
                    }
                    #expect(report.durableLength == UInt64(bytesEach))
                    #expect(report.headsVerified)
                }
            }
            try await tasks.waitForAll()
        }
        return try #require(ledger.sharesWhenFirstFinished)
    }
}

/// Each sender's acknowledged bytes, and a snapshot of all of them taken under the same lock as the update that
/// completes the first sender: what everyone had at that instant.
private final class ShareLedger: Sendable {
    private struct State {
        var acknowledged: [UInt64]
        var snapshot: [UInt64]?
    }

    private let state: Mutex<State>
    private let total: UInt64

    init(senders: Int, total: UInt64) {
        state = Mutex(State(acknowledged: Array(repeating: 0, count: senders)))
        self.total = total
    }

    func record(sender: Int, acknowledged: UInt64) {
        state.withLock { state in
            state.acknowledged[sender] = max(state.acknowledged[sender], acknowledged)
            if acknowledged == total && state.snapshot == nil { state.snapshot = state.acknowledged }
        }
    }

    var sharesWhenFirstFinished: [UInt64]? { state.withLock { $0.snapshot } }
}
