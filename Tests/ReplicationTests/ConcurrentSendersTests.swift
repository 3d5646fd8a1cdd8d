import Foundation
import Receipts
import Receiver
import ReplicationClients
import ReplicationTransport
import Testing

@Suite("Concurrent senders")
struct ConcurrentSendersTests {
    @Test("64 concurrent senders on distinct streams each get exactly their bytes back")
    func sixtyFourSenders() async throws {
        try await ReceiverHarness.run { harness in
            let payloads = (0..<64).map { index in
                (0..<(200_000 + index * 1_000)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index) }
            }
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                for (index, payload) in payloads.enumerated() {
                    tasks.addTask {
                        let report = try await harness.send(payload, to: "ee.concurrent.\(index)")
                        #expect(report.durableLength == UInt64(payload.count))
                        #expect(report.headsVerified)
                    }
                }
                try await tasks.waitForAll()
            }
            for (index, payload) in payloads.enumerated() {
                #expect(try await harness.restore("ee.concurrent.\(index)") == payload)
            }
        }
    }

    @Test("a small shared budget pauses senders without deadlock; everything arrives and the budget returns to 0")
    func sharedBudget() async throws {
        let budget = ReceiveBudget(limit: 1 << 20)
        try await ReceiverHarness.run(budget: budget) { harness in
            let payloads = (0..<8).map { index in (0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &+ index) } }
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                for (index, payload) in payloads.enumerated() {
                    tasks.addTask { _ = try await harness.send(payload, to: "ee.budget.\(index)") }
                }
                try await tasks.waitForAll()
            }
            for (index, payload) in payloads.enumerated() {
                #expect(try await harness.restore("ee.budget.\(index)") == payload)
            }
        }
        #expect(budget.held == 0)
    }
}
