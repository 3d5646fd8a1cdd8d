import Foundation

/// The store's one lock: state that several threads share, guarded by a mutex with a condition beside it.
///
/// Every change wakes the threads waiting for one (``wait(until:timeout:then:)``), so a waiter never misses the
/// change it waits for; a broadcast that no thread waits for costs a check of one word. One type for every lock of
/// the store, so that a reader sees at once what each guards: the state is only reachable inside the lock.
final class Guarded<State>: @unchecked Sendable {
    // @unchecked: `state` is reached only with `condition` locked.
    private let condition = NSCondition()
    private var state: State

    init(_ state: State) {
        self.state = state
    }

    /// Runs `body` on the state with the lock held, then wakes every waiter.
    func withLock<Result, Failure: Error>(
        _ body: (inout State) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        condition.lock()
        defer {
            condition.broadcast()
            condition.unlock()
        }
        return try body(&state)
    }

    /// Waits until `ready` holds (or `timeout` passes), then runs `body` with the lock still held and wakes every
    /// waiter. `body` learns whether `ready` held.
    func wait<Result>(
        until ready: (State) -> Bool, timeout: Duration? = nil, then body: (inout State, _ ready: Bool) -> Result
    ) -> Result {
        condition.lock()
        defer {
            condition.broadcast()
            condition.unlock()
        }
        let deadline = timeout.map {
            Date(timeIntervalSinceNow: Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18)
        }
        while !ready(state) {
            if let deadline {
                if !condition.wait(until: deadline) && !ready(state) { return body(&state, false) }
            } else {
                condition.wait()
            }
        }
        return body(&state, true)
    }
}
