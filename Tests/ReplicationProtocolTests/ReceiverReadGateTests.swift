import Authorization
import HashChain
import NIOCore
import ReplicationProtocol
import StreamStore
import Testing

/// The receiver's decisions that used to live in its channel handler: when to read, what it holds against the shared
/// budget, when a client has overrun its deadline, and what a receipt that cannot be signed ends in. Events in,
/// decisions out; no channel, no clock, no sleep.
@Suite("Receiver read gate, client deadline, receipt failure")
struct ReceiverReadGateTests {
    @Test("a read NIO asks for while the protocol holds reading waits, and goes out when it resumes")
    func protocolPause() {
        var gate = ReceiverReadGate()
        let readsAtOnce = gate.readRequested()
        #expect(readsAtOnce, "nothing holds reading yet")
        let readsOnPause = gate.protocolChanged(.pause)
        #expect(!readsOnPause, "pausing issues no read")
        let readsWhilePaused = gate.readRequested()
        #expect(!readsWhilePaused, "held by the protocol")
        #expect(gate.readPending)
        let readsOnResume = gate.protocolChanged(.resume)
        #expect(readsOnResume, "the read NIO asked for goes out now")
        #expect(!gate.readPending)
        let readsOnSecondResume = gate.protocolChanged(.resume)
        #expect(!readsOnSecondResume, "a second resume has no read to issue")
    }

    @Test("data the budget had no room for pauses reading once; room again reads only if nothing else holds it")
    func budgetPause() {
        var gate = ReceiverReadGate()
        let firstData = gate.received(1000, granted: true)
        #expect(firstData == .proceed)
        let overBudget = gate.received(500, granted: false)
        #expect(overBudget == .waitForRoom)
        let stillOverBudget = gate.received(500, granted: false)
        #expect(stillOverBudget == .alreadyWaiting, "one wait for room, not one per frame")
        #expect(gate.heldBytes == 2000)
        let readsWhileWaiting = gate.readRequested()
        #expect(!readsWhileWaiting)
        let readsOnPause = gate.protocolChanged(.pause)
        #expect(!readsOnPause)
        let readsOnRoom = gate.budgetHasRoom()
        #expect(!readsOnRoom, "the protocol still holds reading")
        #expect(gate.readPending)
        let readsOnResume = gate.protocolChanged(.resume)
        #expect(readsOnResume, "both causes gone: the pending read goes out")
        let givenBackByStorage = gate.released(1500)
        #expect(givenBackByStorage == 1500)
        #expect(gate.heldBytes == 500)
        let givenBackOnClose = gate.closed()
        #expect(givenBackOnClose == 500, "what the connection still held goes back when it closes")
        #expect(gate.heldBytes == 0)
        let givenBackAgain = gate.closed()
        #expect(givenBackAgain == 0, "and only once")
        // An append still running when the connection closed completes: its bytes went back with the close.
        let givenBackAfterClose = gate.released(500)
        #expect(givenBackAfterClose == 0, "the same bytes given back twice would grow the budget past its limit")
    }

    @Test("a client's deadline runs from its last progress, and not while the receiver itself is busy")
    func deadline() {
        var clock = ClientDeadline(connectedAt: .seconds(100))
        let expiredAt109 = clock.hasExpired(at: .seconds(109), deadline: .seconds(10))
        #expect(!expiredAt109)
        let expiredAfter110 = clock.hasExpired(at: .milliseconds(110_001), deadline: .seconds(10))
        #expect(expiredAfter110, "no hello within 10 s")
        clock.progressed(at: .seconds(109))
        let expiredAt118 = clock.hasExpired(at: .seconds(118), deadline: .seconds(10))
        #expect(!expiredAt118, "a frame at 109 s restarted it")
        // The receiver is busy (storage in flight) until 300 s: the client's clock starts again then.
        let expiredWhileBusy = clock.hasExpired(at: .seconds(300), deadline: nil)
        #expect(!expiredWhileBusy)
        let expiredAt419 = clock.hasExpired(at: .seconds(419), deadline: .seconds(120))
        #expect(!expiredAt419)
        let expiredAfter420 = clock.hasExpired(at: .milliseconds(420_001), deadline: .seconds(120))
        #expect(expiredAfter420)
        clock.progressed(at: .seconds(5))
        #expect(clock.lastProgress == .seconds(300), "time never runs backwards")
    }

    @Test("a receipt that cannot be signed ends the session with storage-failure, once")
    func receiptSigningFailure() throws {
        let peer = CertifiedPeer(commonName: "sender")
        var machine = ReceiverStateMachine(
            limits: .init(), policy: try AuthorizationPolicy(parsing: "sender append *", file: "test"))
        _ = machine.peerIdentified(peer)
        let stream = try StreamName("ee.receipts")
        let hello = machine.frameReceived(.hello(Hello(intent: .append, stream: "ee.receipts")))
        #expect(hello.storage == .open(stream, .append))
        _ = machine.streamOpened(length: 7, head: .empty)
        let asked = machine.frameReceived(.receiptRequest)
        #expect(asked.receipt == ReceiptRequest(stream: stream, durableLength: 7, head: .empty))
        let failed = machine.receiptSigningFailed("the key is unusable")
        #expect(failed.close)
        #expect(failed.storage == .release)
        #expect(failed.frames.count == 1 && failed.frames.first?.kind == "error")
        if case .error(let error)? = failed.frames.first {
            #expect(error.code == .storageFailure)
            #expect(error.message.contains("what was acknowledged is durable"), "\(error.message)")
        }
        let afterClose = machine.receiptSigningFailed("again")
        #expect(afterClose == .none, "a closed session answers nothing more")
    }
}
