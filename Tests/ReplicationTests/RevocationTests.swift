import Foundation
import HashChain
import NIOCore
import NIOSSL
import Receipts
import Receiver
import ReplicationClients
import ReplicationProtocol
import ReplicationTransport
import Testing

/// Home revokes a sender's certificate and reloads the policy: its open connection ends, its next handshake is
/// refused, and every other sender goes on.
@Suite("Revocation over real TLS")
struct RevocationTests {
    static let policy = "development-sender append *\ndevelopment-sender read *"

    /// Two senders hold open connections; a reload that names another serial changes nothing for either, the one
    /// that names the first sender's closes its connection with certificate-revoked, and the second sender goes on
    /// over the connection it had.
    @Test("a reload that revokes one sender closes its open connection and refuses it afterwards; the others go on")
    func revokedSenderIsCutOff() async throws {
        let policy = Self.policy + "\nother-sender append *\nother-sender read *"
        try await ReceiverHarness.run(policy: policy) { harness in
            let before = [UInt8](repeating: 5, count: 100_000)
            _ = try await harness.send(before, to: "ee.revoked")
            let serial = try harness.senderSerial()
            let other = try harness.issueSender(commonName: "other-sender")

            let revoked = try await RawClient.connect(port: harness.port, tls: try harness.endpoint().tls)
            let bystander = try await RawClient.connect(
                port: harness.port, tls: try harness.endpoint(certificate: other.certificate, key: other.key).tls)
            try await revoked.channel.executeThenClose { revokedInbound, revokedOutbound in
                try await bystander.channel.executeThenClose { otherInbound, otherOutbound in
                    var revokedFrames = FrameReader(revokedInbound)
                    var otherFrames = FrameReader(otherInbound)
                    try await revokedOutbound.write(
                        ByteBuffer(bytes: Frame.bytes(.hello(Hello(intent: .append, stream: "ee.revoked")))))
                    try await otherOutbound.write(
                        ByteBuffer(bytes: Frame.bytes(.hello(Hello(intent: .append, stream: "ee.bystander")))))
                    let ready = try await revokedFrames.next()
                    #expect(ready == .ready(length: 100_000, head: ChainHead.of(before)), "\(ready as Any)")
                    let otherReady = try await otherFrames.next()
                    #expect(otherReady == .ready(length: 0, head: .empty), "\(otherReady as Any)")

                    // Another serial: the sender is served as before over its open connection.
                    try harness.reload(policy: policy, denyList: "serial 7f")
                    try await revokedOutbound.write(Self.dataAndSync(at: 100_000, [9, 9, 9]))
                    let acknowledged = try await revokedFrames.next()
                    #expect(
                        acknowledged
                            == .acknowledgement(durableLength: 100_003, head: ChainHead.of(before + [9, 9, 9])),
                        "a reload naming another serial touched this sender: \(acknowledged as Any)")

                    try harness.reload(policy: policy, denyList: "serial \(serial)")
                    let refusal = try await revokedFrames.next()
                    #expect(refusal?.errorCode == .certificateRevoked, "\(refusal as Any)")
                    let afterRefusal = try await revokedFrames.next()
                    #expect(afterRefusal == nil, "the revoked connection stayed open: \(afterRefusal as Any)")

                    try await otherOutbound.write(Self.dataAndSync(at: 0, [1, 2, 3]))
                    let otherAcknowledged = try await otherFrames.next()
                    #expect(
                        otherAcknowledged == .acknowledgement(durableLength: 3, head: ChainHead.of([1, 2, 3])),
                        "the other sender's connection did not survive the reload: \(otherAcknowledged as Any)")
                }
            }

            // A new connection is refused before its hello is served, and the sender does not retry it.
            do {
                _ = try await harness.send([1], to: "ee.revoked")
                Issue.record("a revoked sender could still send")
            } catch let error as ReplicationError {
                #expect(error.code == .certificateRevoked, "\(error)")
            }

            // Taken off the list again (a mistake undone), it is served as before: nothing stored was harmed.
            try harness.reload(policy: policy, denyList: "")
            _ = try await harness.send([1, 2], to: "ee.revoked")
            #expect(try await harness.restore("ee.revoked") == before + [9, 9, 9, 1, 2])
            #expect(try await harness.restore("ee.bystander") == [1, 2, 3])
        }
    }

    private static func dataAndSync(at offset: UInt64, _ bytes: [UInt8]) -> ByteBuffer {
        ByteBuffer(bytes: Frame.bytes(.data(offset: offset, bytes: ByteBuffer(bytes: bytes))) + Frame.bytes(.sync))
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
