import NIOConcurrencyHelpers

/// The bytes all connections together hold between reading them from the network and their flush to storage.
///
/// Each connection already stops reading when its own queue is full; this bounds the sum, whatever the number of
/// senders: a connection that takes bytes while the total is over the limit stops reading until others have
/// flushed theirs and it is woken.
public final class ReceiveBudget: Sendable {
    private struct State {
        var held = 0
        var waiting: [ObjectIdentifier: @Sendable () -> Void] = [:]
    }

    /// The most bytes held at once before connections pause.
    public let limit: Int
    private let state = NIOLockedValueBox(State())

    /// A budget of `limit` bytes. 8 MiB by default: the bytes held are slices of NIO's read buffers, which keep
    /// about twice their size resident (`docs/replication-protocol.md`, the memory bound), and one connection's full
    /// queue (8 MiB, where it stops reading anyway) keeps the store busy.
    public init(limit: Int = 8 << 20) {
        precondition(limit > 0)
        self.limit = limit
    }

    /// Bytes held now.
    public var held: Int { state.withLockedValue { $0.held } }

    /// Takes `bytes`; returns false when the total is now over the limit and the taker should pause.
    func take(_ bytes: Int) -> Bool {
        state.withLockedValue { state in
            state.held += bytes
            return state.held <= limit
        }
    }

    /// Gives `bytes` back, and wakes the paused connections once the total is within the limit again.
    func give(_ bytes: Int) {
        let woken: [@Sendable () -> Void] = state.withLockedValue { state in
            state.held -= bytes
            guard state.held <= limit else { return [] }
            defer { state.waiting = [:] }
            return Array(state.waiting.values)
        }
        for wake in woken { wake() }
    }

    /// Calls `wake` once the total is within the limit (at once if it already is).
    func wait(_ id: ObjectIdentifier, wake: @escaping @Sendable () -> Void) {
        let now = state.withLockedValue { state -> Bool in
            if state.held <= limit { return true }
            state.waiting[id] = wake
            return false
        }
        if now { wake() }
    }

    /// Forgets a waiter that went away.
    func cancel(_ id: ObjectIdentifier) {
        _ = state.withLockedValue { $0.waiting.removeValue(forKey: id) }
    }
}
