/// Whether the receiver reads from a client, as a pure state machine.
///
/// Three things decide it: the protocol's backpressure (``ReceiverAction/reading``: the queue is full, or the client
/// does not read what it is sent), the shared receive budget (`ReceiveBudget` in the Receiver module: this connection
/// read bytes that no place in the budget was left for), and whether NIO asked for a read while either held it. The
/// channel handler feeds it those events and issues a read exactly when a call returns `true`.
///
/// It also keeps the bytes this connection holds against the shared budget, so that what it gives back (when storage
/// has taken them, or when the connection goes) is never more or less than it took.
public struct ReceiverReadGate: Equatable, Sendable {
    /// Reading is held by the protocol's backpressure.
    public private(set) var pausedByProtocol = false
    /// Reading is held until the shared budget has room again.
    public private(set) var pausedByBudget = false
    /// NIO asked for a read while reading was held; it is issued once nothing holds it.
    public private(set) var readPending = false
    /// Bytes read and counted against the shared budget, not yet given back.
    public private(set) var heldBytes = 0

    /// Reading from a client that has sent nothing yet.
    public init() {}

    private var isPaused: Bool { pausedByProtocol || pausedByBudget }

    /// NIO asks for more bytes: whether to read now (otherwise the read waits until nothing holds it).
    public mutating func readRequested() -> Bool {
        guard isPaused else { return true }
        readPending = true
        return false
    }

    /// The protocol state machine paused or resumed reading: whether to read now (a read NIO asked for meanwhile).
    public mutating func protocolChanged(_ change: ReadingChange) -> Bool {
        pausedByProtocol = change == .pause
        return releasePendingRead()
    }

    /// What to do after data arrived.
    public enum BudgetDecision: Equatable, Sendable {
        /// Nothing: the budget had room.
        case proceed
        /// Stop reading and ask the budget to say when it has room again (once; later refusals wait on the same).
        case waitForRoom
        /// Reading already waits for room.
        case alreadyWaiting
    }

    /// `bytes` of data arrived and were counted against the shared budget; `granted` says whether it had room.
    public mutating func received(_ bytes: Int, granted: Bool) -> BudgetDecision {
        precondition(bytes >= 0)
        heldBytes += bytes
        guard !granted else { return .proceed }
        guard !pausedByBudget else { return .alreadyWaiting }
        pausedByBudget = true
        return .waitForRoom
    }

    /// The budget has room again: whether to read now.
    public mutating func budgetHasRoom() -> Bool {
        pausedByBudget = false
        return releasePendingRead()
    }

    /// Storage took `bytes` of what this connection held: returns how many go back to the budget. Fewer than
    /// `bytes` (none) once the connection closed: ``closed()`` gave back everything it held, and an append that was
    /// still running then must not give its bytes back a second time, or the budget would grow past its limit.
    public mutating func released(_ bytes: Int) -> Int {
        let released = min(max(0, bytes), heldBytes)
        heldBytes -= released
        return released
    }

    /// The connection went: everything it held goes back to the budget. Returns how much.
    public mutating func closed() -> Int {
        defer { heldBytes = 0 }
        return heldBytes
    }

    private mutating func releasePendingRead() -> Bool {
        guard !isPaused && readPending else { return false }
        readPending = false
        return true
    }
}

/// When a client has kept the receiver waiting too long, as a pure state machine with injected time.
///
/// A client makes progress whenever it sends a frame or reads what it was sent (its connection becomes writable).
/// The deadline itself comes from ``ReceiverStateMachine/clientDeadline``: the hello timeout before the hello, the
/// idle timeout after, and none while the receiver itself is busy (a storage operation in flight), in which case the
/// client's clock starts again when the receiver is done.
public struct ClientDeadline: Equatable, Sendable {
    /// The last time the client made progress (a monotonic time from any fixed origin).
    public private(set) var lastProgress: Duration

    /// A client that connected at `now`.
    public init(connectedAt now: Duration) {
        lastProgress = now
    }

    /// The client sent a frame or read what it was sent at `now`.
    public mutating func progressed(at now: Duration) {
        lastProgress = max(lastProgress, now)
    }

    /// Whether, at `now`, the client has overrun `deadline`; nil (the receiver is busy) restarts its clock.
    public mutating func hasExpired(at now: Duration, deadline: Duration?) -> Bool {
        guard let deadline else {
            lastProgress = max(lastProgress, now)
            return false
        }
        return now - lastProgress > deadline
    }
}
