import Foundation
import NIOCore
import NIOSSL
import Replication
import ReplicationProtocol
import Testing

/// Home revokes a sender's certificate and reloads the policy: its open connection ends, its next handshake is
/// refused, and every other sender goes on.
@Suite("Revocation over real TLS")
struct RevocationTests {
    static let policy = "development-sender append *\ndevelopment-sender read *"

    @Test("a reload that revokes the sender closes its open connection and refuses it afterwards")
    func revokedSenderIsCutOff() async throws {
        try await ReceiverHarness.run { harness in
            let before = [UInt8](repeating: 5, count: 100_000)
            _ = try await harness.send(before, to: "ee.revoked")
            let serial = try harness.senderSerial()

            // An open, authorised connection that has been told where the stream ends.
            let client = try await RawClient.connect(port: harness.port, tls: try harness.endpoint().tls)
            let frames: [Frame] = try await client.channel.executeThenClose { inbound, outbound in
                try await outbound.write(
                    ByteBuffer(bytes: Frame.bytes(.hello(Hello(intent: .append, stream: "ee.revoked")))))
                var received = ByteBuffer()
                var frames: [Frame] = []
                var reloaded = false
                do {
                    for try await var chunk in inbound {
                        received.writeBuffer(&chunk)
                        while let frame = try FrameParser().parse(&received) { frames.append(frame) }
                        if !reloaded, case .ready? = frames.first {
                            // Another sender's serial first: nothing changes for this one.
                            try harness.reload(policy: Self.policy, denyList: "serial 7f")
                            try harness.reload(policy: Self.policy, denyList: "serial \(serial)")
                            reloaded = true
                        }
                    }
                } catch {
                    // The receiver closed without a TLS close_notify: the frames before are what it said.
                }
                return frames
            }
            #expect(frames.count == 2, "\(frames)")
            #expect(frames.last?.errorCode == .certificateRevoked, "\(frames)")

            // A new connection is refused before its hello is served, and the sender does not retry it.
            do {
                _ = try await harness.send([1], to: "ee.revoked")
                Issue.record("a revoked sender could still send")
            } catch let error as ReplicationError {
                #expect(error.code == .certificateRevoked, "\(error)")
            }

            // Taken off the list again (a mistake undone), it is served as before: nothing stored was harmed.
            try harness.reload(policy: Self.policy, denyList: "")
            _ = try await harness.send([1, 2], to: "ee.revoked")
            #expect(try await harness.restore("ee.revoked") == before + [1, 2])
        }
    }
}

@Suite("Grant scope over real TLS")
struct GrantScopeOverTLSTests {
    @Test("a grant for ee.pop opens ee.pop.wal but not ee.population.wal")
    func wholeComponents() async throws {
        let harness = try await ReceiverHarness(policy: "development-sender append ee.pop")
        do {
            _ = try await harness.send([1, 2, 3], to: "ee.pop.wal")
            do {
                _ = try await harness.send([4], to: "ee.population.wal")
                Issue.record("a grant for ee.pop opened ee.population.wal")
            } catch let error as ReplicationError {
                #expect(error.code == .notAuthorized, "\(error)")
            }
        } catch {
            await harness.stop()
            throw error
        }
        await harness.stop()
    }
}
