import Foundation
import MetricsTestKit
import NIOCore
import NIOSSL
import Receipts
import Receiver
import ReplicationClients
import ReplicationProtocol
import ReplicationTransport
import Testing

/// Hostile and broken input over real TLS on loopback: each is answered with a clear error and a closed connection,
/// nothing stored is harmed, and the receiver goes on serving everyone else.
@Suite("Hostile input")
struct HostileInputTests {
    static let hello = Frame.bytes(.hello(Hello(intent: .append, stream: "ee.hostile")))

    /// Sends `bytes` as an authenticated client and returns the receiver's answer.
    private func answer(
        to bytes: [UInt8], afterReady: [UInt8]? = nil, harness: ReceiverHarness
    ) async throws -> [Frame] {
        let client = try await RawClient.connect(port: harness.port, tls: try harness.endpoint().tls)
        return try await client.exchange(bytes, afterReady: afterReady)
    }

    @Test(
        "malformed, unknown and oversized frames get malformed-frame, and the stored stream is unharmed",
        arguments: [
            [0, 0, 0, 1, 0x7F] as [UInt8],  // an unknown type
            [0xFF, 0xFF, 0xFF, 0xFF, 0x03],  // a 4 GiB frame
            [0, 0, 0, 0],  // an empty body
            [0, 0, 0, 3, 0x02, 0, 0],  // a ready from a client, truncated
        ])
    func malformed(bytes: [UInt8]) async throws {
        try await ReceiverHarness.run { harness in
            let before = [UInt8](repeating: 42, count: 300_000)
            _ = try await harness.send(before, to: "ee.hostile")
            let frames = try await answer(to: Self.hello, afterReady: bytes, harness: harness)
            let codes = frames.compactMap(\.errorCode)
            #expect(codes == [.malformedFrame], "\(frames)")
            #expect(try await harness.restore("ee.hostile") == before)
            // The receiver still serves an honest sender.
            _ = try await harness.send([1, 2, 3], to: "ee.hostile")
            #expect(try await harness.restore("ee.hostile") == before + [1, 2, 3])
        }
    }

    @Test("data before the ready is refused: a client must learn where the stream ends first")
    func dataBeforeReady() async throws {
        try await ReceiverHarness.run { harness in
            let data = Frame.bytes(.data(offset: 0, bytes: ByteBuffer(bytes: [1])))
            let frames = try await answer(to: Self.hello + data, harness: harness)
            #expect(frames.compactMap(\.errorCode) == [.unexpectedFrame], "\(frames)")
        }
    }

    @Test("data at a wrong offset is refused and changes nothing")
    func wrongOffset() async throws {
        try await ReceiverHarness.run { harness in
            _ = try await harness.send([9, 9, 9], to: "ee.hostile")
            let overwrite = Frame.bytes(.data(offset: 0, bytes: ByteBuffer(bytes: [6, 6, 6])))
            let gap = Frame.bytes(.data(offset: 10, bytes: ByteBuffer(bytes: [6])))
            for attempt in [overwrite, gap] {
                let frames = try await answer(to: Self.hello, afterReady: attempt, harness: harness)
                #expect(frames.compactMap(\.errorCode) == [.wrongOffset], "\(frames)")
            }
            #expect(try await harness.restore("ee.hostile") == [9, 9, 9])
        }
    }

    @Test("a client without a certificate, and one that stops mid-handshake, are refused; others are served")
    func noCertificateAndTruncatedTLS() async throws {
        try await ReceiverHarness.run { harness in
            var anonymous = try harness.endpoint().tls
            anonymous.certificateChain = []
            anonymous.privateKey = nil
            // The handshake fails (the receiver requires a certificate): not one frame, not even a refusal.
            let frames = try await RawClient.connect(port: harness.port, tls: anonymous).exchange(Self.hello)
            #expect(frames.isEmpty, "a client without a certificate got \(frames)")
            await #expect {
                _ = try await harness.send(
                    [1], to: "ee.hostile",
                    endpoint: ReplicationEndpoint(
                        host: "127.0.0.1", port: harness.port, tls: anonymous))
            } throws: { error in
                (error as? ReplicationError)?.description.contains("certificate") == true
            }
            // Half a ClientHello over plain TCP, then silence until the receiver hangs up or the test does.
            let truncated = try await RawClient.openSocket(port: harness.port)
            try await truncated.writeAndFlush(ByteBuffer(bytes: [0x16, 0x03, 0x01, 0x02, 0x00, 0x01]))
            try await truncated.close()
            _ = try await harness.send([5], to: "ee.hostile")
            #expect(try await harness.restore("ee.hostile") == [5])
        }
    }

    @Test("a client that never sends its hello is cut off after the hello timeout")
    func silentClient() async throws {
        try await ReceiverHarness.run(limits: .init(helloTimeout: .milliseconds(400))) { harness in
            let start = ContinuousClock.now
            let frames = try await answer(to: [], harness: harness)
            #expect(frames.compactMap(\.errorCode) == [.timedOut], "\(frames)")
            // Well before the 120 s idle timeout: it was the hello timeout that cut it off.
            #expect(start.duration(to: .now) < .seconds(60))
        }
    }

    @Test("a sender trickling a byte at a time never completes a frame and is cut off")
    func trickle() async throws {
        try await ReceiverHarness.run(limits: .init(idleTimeout: .milliseconds(600))) { harness in
            let client = try await RawClient.connect(port: harness.port, tls: try harness.endpoint().tls)
            let frames: [Frame] = try await client.channel.executeThenClose { inbound, outbound in
                try await outbound.write(ByteBuffer(bytes: Self.hello))
                let data = Frame.bytes(.data(offset: 0, bytes: ByteBuffer(repeating: 1, count: 100)))
                let trickler = Task {
                    for byte in data {
                        try await outbound.write(ByteBuffer(bytes: [byte]))
                        try await Task.sleep(for: .milliseconds(100))
                    }
                }
                defer { trickler.cancel() }
                var received = ByteBuffer()
                do {
                    for try await var chunk in inbound { received.writeBuffer(&chunk) }
                } catch {}
                var frames: [Frame] = []
                while let frame = try FrameParser().parse(&received) { frames.append(frame) }
                return frames
            }
            #expect(frames.compactMap(\.errorCode) == [.timedOut], "\(frames)")
        }
    }

    @Test("1000 concurrent idle connections: an honest sender is still served, and extra ones are refused")
    func manyConnections() async throws {
        let metrics = TestMetrics()
        // A handshake pool as large as the connections, so that the cap on connections is what refuses.
        try await ReceiverHarness.run(
            maximumConnections: 1000, metrics: ReplicationMetrics(factory: metrics),
            handshakePool: .init(capacity: 2000, perAddress: 2000)
        ) { harness in
            var clients: [any Channel] = []
            defer { for client in clients { client.close(promise: nil) } }
            for _ in 0..<1000 {
                clients.append(try await RawClient.openSocket(port: harness.port))
            }
            // Accepting is asynchronous: wait until the receiver has all of them before the honest sender arrives.
            try await Self.waitForConnections(metrics, atLeast: 1000)
            let impatient = RetryPolicy(giveUpAfter: .milliseconds(300))
            await #expect {
                _ = try await harness.send([7], to: "ee.hostile", retry: impatient)
            } throws: { error in
                // Closed on accept, again and again, until the sender's period is over.
                (error as? ReplicationError)?.description.contains("gave up after") == true
            }
            for client in clients.prefix(10) { try? await client.close() }
            // The honest sender retries by itself until a place is free.
            _ = try await harness.send([7], to: "ee.hostile")
            #expect(try await harness.restore("ee.hostile") == [7])
        }
    }

    private static func waitForConnections(_ metrics: TestMetrics, atLeast count: Double) async throws {
        let meter = try metrics.expectMeter("saatkond_replication_connections")
        let deadline = ContinuousClock.now + .seconds(60)
        while (meter.lastValue ?? 0) < count && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect((meter.lastValue ?? 0) >= count)
    }
}
