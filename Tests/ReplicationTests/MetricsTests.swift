import MetricsTestKit
import Receipts
import Receiver
import ReplicationClients
import ReplicationTransport
import Testing

@Suite("Replication metrics")
struct MetricsTests {
    @Test("bytes and acknowledgements in all (no label names a stream), refusals by reason, connections open")
    func counted() async throws {
        let metrics = TestMetrics()
        try await ReceiverHarness.run(metrics: ReplicationMetrics(factory: metrics)) { harness in
            _ = try await harness.send([UInt8](repeating: 1, count: 700_000), to: "ee.metrics")
            await #expect {
                _ = try await harness.send([1], to: "not..valid")
            } throws: { error in
                (error as? ReplicationError)?.code == .invalidStreamName
            }
            #expect(
                metrics.counterTotal(label: "saatkond_replication_bytes_total", dimensions: [])
                    == 700_000)
            #expect(
                metrics.counterTotal(
                    label: "saatkond_replication_acknowledgements_total", dimensions: []) >= 1)
            #expect(
                metrics.counterTotal(
                    label: "saatkond_replication_refusals_total", dimensions: [("reason", "invalid-stream-name")]) == 1)
            // Each connection counts up when it opens and down once the receiver has let go of it.
            let connections = try metrics.expectMeter("saatkond_replication_connections")
            let deadline = ContinuousClock.now + .seconds(10)
            while connections.lastValue != 0 && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(connections.lastValue == 0)
            #expect(connections.values.count >= 4)
        }
    }
}
