import HashChain
import NIOCore
import ReplicationProtocol
import ReplicationTransport
import Testing

@testable import ReplicationClients

/// The sender's decisions as sequences of events and the actions expected of them: when to try again and when to
/// give up (on a test clock: nothing sleeps), and what each frame the appliance sends leads to.
@Suite("Sender state machines")
struct SenderStateMachineTests {
    static let policy = RetryPolicy(
        initialDelay: .milliseconds(100), maximumDelay: .milliseconds(400), giveUpAfter: .seconds(10))
    static let broken = ReplicationError.connection("the connection to 127.0.0.1:7443 broke: reset")

    @Test("waits double up to the maximum, start over after progress, and end after the period without progress")
    func retryBackoff() {
        var retry = SendRetry(policy: Self.policy, startedAt: .zero)
        #expect(retry.connecting() == 1)
        var decision = retry.failed(Self.broken, acknowledged: 0, at: .seconds(1))
        #expect(decision == .retry(after: .milliseconds(100)))
        decision = retry.failed(Self.broken, acknowledged: 0, at: .seconds(2))
        #expect(decision == .retry(after: .milliseconds(200)))
        decision = retry.failed(Self.broken, acknowledged: 0, at: .seconds(3))
        #expect(decision == .retry(after: .milliseconds(400)))
        decision = retry.failed(Self.broken, acknowledged: 0, at: .seconds(4))
        #expect(decision == .retry(after: .milliseconds(400)), "the wait stops doubling at the maximum")
        // The appliance acknowledged more since: the wait and the period start over.
        decision = retry.failed(Self.broken, acknowledged: 4096, at: .seconds(9))
        #expect(decision == .retry(after: .milliseconds(100)))
        decision = retry.failed(Self.broken, acknowledged: 4096, at: .seconds(18))
        #expect(decision == .retry(after: .milliseconds(200)), "9 s without progress is within the period")
        _ = retry.connecting()
        decision = retry.failed(Self.broken, acknowledged: 4096, at: .seconds(19))
        guard case .giveUp(let error) = decision else {
            Issue.record("still retrying after 10 s without progress: \(decision)")
            return
        }
        #expect(error.description.hasPrefix("gave up after 2 connections without progress for 10.0 seconds"))
        #expect(error.description.hasSuffix(Self.broken.description))
    }

    @Test(
        "a refusal, a broken promise or a certificate ends the send at once; a busy or failing appliance is waited out",
        arguments: [
            (ReplicationError.refused(ErrorFrame(code: .notAuthorized, message: "no")), false),
            (.refused(ErrorFrame(code: .certificateRevoked, message: "revoked")), false),
            (.protocolViolation("the appliance now reports fewer durable bytes"), false),
            (.certificate("the TLS handshake failed"), false),
            (.refused(ErrorFrame(code: .streamBusy, message: "busy")), true),
            (.refused(ErrorFrame(code: .storageFailure, message: "full")), true),
            (.refused(ErrorFrame(code: .applianceBusy, message: "busy")), true),
            (.refused(ErrorFrame(code: .shuttingDown, message: "bye")), true),
        ])
    func whatIsRetried(error: ReplicationError, retried: Bool) {
        var retry = SendRetry(policy: Self.policy, startedAt: .zero)
        _ = retry.connecting()
        let decision = retry.failed(error, acknowledged: 0, at: .seconds(1))
        #expect(decision == (retried ? .retry(after: .milliseconds(100)) : .giveUp(error)))
    }

    @Test("ready, acknowledgements checked against the sender's own chain, and completion")
    func sessionLifecycle() {
        var ledger = SendLedger()
        var session = SenderSession(stream: "ee.wal", mode: .append, requestsReceipt: false)
        #expect(session.received(.ready(length: 0, head: .empty), ledger: &ledger) == .startWriting(resend: []))
        let bytes = [UInt8](repeating: 1, count: 1000)
        #expect(ledger.sending(ByteBuffer(bytes: bytes)) == 0)
        #expect(
            session.received(.acknowledgement(durableLength: 1000, head: .of(bytes)), ledger: &ledger)
                == .acknowledged, "more input may follow: not finished yet")
        ledger.finishInput()
        // The sync's answer: everything is acknowledged.
        #expect(
            session.received(.acknowledgement(durableLength: 1000, head: .of(bytes)), ledger: &ledger)
                == .finished(nil))
        #expect(session.phase == .done)

        var lied = SenderSession(stream: "ee.wal", mode: .append, requestsReceipt: false)
        var other = SendLedger()
        _ = lied.received(.ready(length: 0, head: .empty), ledger: &other)
        _ = other.sending(ByteBuffer(bytes: bytes))
        guard case .fail(let error) = lied.received(.acknowledgement(durableLength: 1000, head: .empty), ledger: &other)
        else {
            Issue.record("an acknowledgement with another head was accepted")
            return
        }
        #expect(error.description.contains("the stored bytes differ from the sent ones"), "\(error)")
    }

    @Test("a reconnection resends from the appliance's durable length, and refuses one that holds less")
    func resumeAfterBreak() {
        var ledger = SendLedger()
        var session = SenderSession(stream: "ee.wal", mode: .append, requestsReceipt: false)
        _ = session.received(.ready(length: 0, head: .empty), ledger: &ledger)
        let frames = [ByteBuffer(repeating: 1, count: 600), ByteBuffer(repeating: 2, count: 600)]
        for frame in frames { _ = ledger.sending(frame) }
        let firstHead = ChainHead.of(Array(frames[0].readableBytesView))
        let acknowledged = session.received(.acknowledgement(durableLength: 600, head: firstHead), ledger: &ledger)
        #expect(acknowledged == .acknowledged)

        var again = SenderSession(stream: "ee.wal", mode: .append, requestsReceipt: false)
        let resumed = again.received(.ready(length: 900, head: .empty), ledger: &ledger)
        #expect(
            resumed == .startWriting(resend: [OutgoingData(offset: 900, bytes: ByteBuffer(repeating: 2, count: 300))]))

        var forgetful = SenderSession(stream: "ee.wal", mode: .append, requestsReceipt: false)
        let lost = forgetful.received(.ready(length: 100, head: .empty), ledger: &ledger)
        guard case .fail(let error) = lost else {
            Issue.record("a reconnection below what was acknowledged was accepted: \(lost)")
            return
        }
        #expect(error.kind == .protocolViolation && error.description.contains("lost acknowledged data"))
    }

    @Test("with a receipt: completion asks for it, and only the receipt of what was acknowledged ends the send")
    func receipt() throws {
        var ledger = SendLedger()
        var session = SenderSession(stream: "ee.wal", mode: .append, requestsReceipt: true)
        _ = session.received(.ready(length: 0, head: .empty), ledger: &ledger)
        let bytes = ByteBuffer(repeating: 5, count: 10)
        _ = ledger.sending(bytes)
        ledger.finishInput()
        let head = ChainHead.of(Array(bytes.readableBytesView))
        #expect(session.received(.acknowledgement(durableLength: 10, head: head), ledger: &ledger) == .requestReceipt)
        #expect(session.phase == .awaitingReceipt)
        let other = Receipt(
            stream: "ee.other", durableLength: 10, head: head, millisecondsSince1970: 1, appliance: "a", keyID: "k",
            signature: [])
        var wrong = session
        guard case .fail(let error) = wrong.received(.receipt(other), ledger: &ledger) else {
            Issue.record("a receipt for another stream was accepted")
            return
        }
        #expect(error.description.contains("a receipt for ee.other at 10 where ee.wal at 10 was asked for"))
        let right = Receipt(
            stream: "ee.wal", durableLength: 10, head: head, millisecondsSince1970: 1, appliance: "a", keyID: "k",
            signature: [])
        #expect(session.received(.receipt(right), ledger: &ledger) == .finished(right))
    }

    @Test("a refusal, a close and a frame out of place each end the connection with what happened")
    func failures() {
        var ledger = SendLedger()
        var refused = SenderSession(stream: "ee.wal", mode: .append, requestsReceipt: false)
        let busy = ErrorFrame(code: .streamBusy, message: "another connection appends")
        #expect(refused.received(.error(busy), ledger: &ledger) == .fail(.refused(busy)))
        var closed = SenderSession(stream: "ee.wal", mode: .append, requestsReceipt: false)
        #expect(closed.received(nil, ledger: &ledger) == .fail(.connection("the appliance closed the connection")))
        var confused = SenderSession(stream: "ee.wal", mode: .append, requestsReceipt: false)
        #expect(
            confused.received(.sync, ledger: &ledger) == .fail(.protocolViolation("expected ready, got sync")))
        var resumed = SenderSession(stream: "ee.wal", mode: .resume, requestsReceipt: false)
        #expect(
            resumed.received(.ready(length: 2048, head: .empty), ledger: &ledger)
                == .checkDurablePrefix(length: 2048, head: .empty))
    }
}
