import HashChain
import NIOCore
import ReplicationProtocol
import ReplicationTransport

/// When a send tries again, as a pure state machine with injected time.
///
/// A failure worth retrying (a broken connection, a restarting appliance, a busy stream, full or failing storage) is
/// tried again after a wait that doubles from ``RetryPolicy/initialDelay`` up to ``RetryPolicy/maximumDelay``, and
/// starts over whenever the appliance acknowledged more since the last failure; after ``RetryPolicy/giveUpAfter``
/// without progress the send gives up, saying what the last failure was. Anything else (a refusal, a broken promise,
/// a certificate) ends the send at once.
struct SendRetry: Sendable {
    /// What to do after a connection failed.
    enum Decision: Equatable, Sendable {
        /// Connect again after this long.
        case retry(after: Duration)
        /// End the send with this error.
        case giveUp(ReplicationError)
    }

    let policy: RetryPolicy
    /// Connections made so far.
    private(set) var connections = 0
    private var delay: Duration
    private var lastProgress: Duration
    private var lastAcknowledged: UInt64

    /// A send that starts at `now` (a monotonic time from any fixed origin).
    init(policy: RetryPolicy, startedAt now: Duration) {
        self.policy = policy
        delay = policy.initialDelay
        lastProgress = now
        lastAcknowledged = 0
    }

    /// A connection is about to be made; returns its number, from 1.
    mutating func connecting() -> Int {
        connections += 1
        return connections
    }

    /// A connection failed with `error` at `now`, with `acknowledged` bytes acknowledged over the whole send so far.
    mutating func failed(_ error: ReplicationError, acknowledged: UInt64, at now: Duration) -> Decision {
        guard error.isWorthRetrying else { return .giveUp(error) }
        if acknowledged > lastAcknowledged {
            lastAcknowledged = acknowledged
            lastProgress = now
            delay = policy.initialDelay
        }
        guard now - lastProgress < policy.giveUpAfter else {
            return .giveUp(
                .connection(
                    "gave up after \(connections) connections without progress for \(policy.giveUpAfter): "
                        + "\(error.description)"))
        }
        let wait = delay
        delay = min(delay * 2, policy.maximumDelay)
        return .retry(after: wait)
    }
}

/// What one connection of a send does with each frame the appliance sends, as a pure state machine around the
/// ``SendLedger``, which it changes: the connection's shell reads frames and runs the actions, and decides nothing.
struct SenderSession: Sendable {
    enum Phase: Equatable, Sendable {
        /// Hello sent; the appliance's ready is next.
        case awaitingReady
        /// Data goes out; acknowledgements come in.
        case streaming
        /// Everything is acknowledged and a receipt was asked for.
        case awaitingReceipt
        /// The connection is done, one way or the other.
        case done
    }

    /// What the shell does next.
    enum Action: Equatable, Sendable {
        /// Read the first `length` bytes of the input and check that their chain ends at `head` before sending
        /// anything (a resumed send's first connection), then ``SenderSession/prefixChecked(_:)``.
        case checkDurablePrefix(length: UInt64, head: ChainHead)
        /// Start writing: first `resend`, what the appliance lacks of what this send sent before, then new input.
        case startWriting(resend: [OutgoingData])
        /// An acknowledgement arrived (and made room in the window): wake the writer, report progress.
        case acknowledged
        /// Everything is acknowledged: wait for the writer to end, then send a receipt request.
        case requestReceipt
        /// The send is complete, with the receipt when one was asked for.
        case finished(Receipt?)
        /// End this connection with this error (the retry decides whether another follows).
        case fail(ReplicationError)
    }

    let stream: String
    let mode: SendMode
    let requestsReceipt: Bool
    private(set) var phase = Phase.awaitingReady

    init(stream: String, mode: SendMode, requestsReceipt: Bool) {
        self.stream = stream
        self.mode = mode
        self.requestsReceipt = requestsReceipt
    }

    /// The appliance sent `frame`, or closed the connection (nil).
    mutating func received(_ frame: Frame?, ledger: inout SendLedger) -> Action {
        switch (phase, frame) {
        case (.done, _):
            return .fail(.protocolViolation("a frame after the send ended"))
        case (_, .error(let error)?):
            return fail(.refused(error))
        case (_, nil):
            return fail(.connection("the appliance closed the connection"))
        case (.awaitingReady, .ready(let length, let head)?):
            var resend: [OutgoingData] = []
            if ledger.startLength == nil {
                if case .resume = mode { return .checkDurablePrefix(length: length, head: head) }
                ledger.start(at: length, head: head)
            } else {
                do {
                    resend = try ledger.resume(at: length, head: head).map { OutgoingData(offset: $0, bytes: $1) }
                } catch {
                    return fail(error)
                }
            }
            phase = .streaming
            return .startWriting(resend: resend)
        case (.awaitingReady, let other?):
            return fail(.protocolViolation("expected ready, got \(other.kind)"))
        case (.streaming, .acknowledgement(let durableLength, let head)?):
            do {
                try ledger.acknowledgement(durableLength, head: head)
            } catch {
                return fail(error)
            }
            guard ledger.isComplete else { return .acknowledged }
            guard requestsReceipt else {
                phase = .done
                return .finished(nil)
            }
            phase = .awaitingReceipt
            return .requestReceipt
        case (.awaitingReceipt, .acknowledgement(let durableLength, let head)?):
            // The sync's answer may follow the acknowledgement that completed the send; it must agree with it.
            do {
                try ledger.acknowledgement(durableLength, head: head)
            } catch {
                return fail(error)
            }
            return .acknowledged
        case (.awaitingReceipt, .receipt(let receipt)?):
            let acknowledged = ledger.acknowledged
            let expected = ledger.expectedHead(at: receipt.durableLength)
            guard receipt.stream == stream, receipt.durableLength == acknowledged,
                expected == nil || expected == receipt.head
            else {
                return fail(
                    .protocolViolation(
                        "a receipt for \(receipt.stream) at \(receipt.durableLength) where \(stream) at "
                            + "\(acknowledged) was asked for"))
            }
            phase = .done
            return .finished(receipt)
        case (_, let other?):
            return fail(.protocolViolation("expected an acknowledgement, got \(other.kind)"))
        }
    }

    /// The resumed send's prefix check ended: `chain` over the first bytes of the input matched the appliance's head
    /// (or `error` says why not).
    mutating func prefixChecked(_ result: Result<StreamHashChain, ReplicationError>, ledger: inout SendLedger) -> Action
    {
        switch result {
        case .success(let chain):
            ledger.startResumed(at: chain.length, chain: chain)
            phase = .streaming
            return .startWriting(resend: [])
        case .failure(let error):
            return fail(error)
        }
    }

    private mutating func fail(_ error: ReplicationError) -> Action {
        phase = .done
        return .fail(error)
    }
}

/// Bytes of the stream to send at an explicit offset.
struct OutgoingData: Equatable, Sendable {
    var offset: UInt64
    var bytes: ByteBuffer
}
