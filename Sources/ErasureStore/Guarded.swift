import Foundation

/// The store's one lock: state that several threads share, guarded by a mutex with a condition beside it.
///
/// By default every change wakes the threads waiting for one (``wait(until:timeout:waking:then:)``), so a waiter
/// never misses the change it waits for; a broadcast that no thread waits for costs a check of one word. Where many
/// threads wait for the same change and one suffices (idle workers waiting for a job), a change wakes one, or none
/// when it cannot be what anyone waits for: waking sixty idle threads on two cores for every job costs more than
/// the job. One type for every lock of the store, so that a reader sees at once what each guards: the state is
/// only reachable inside the lock.
final class Guarded<State>: @unchecked Sendable {
    // @unchecked: `state` is reached only with `condition` locked.
    private let condition = NSCondition()
    private var state: State

    /// Whom a change wakes.
    enum Waking {
        case all, one, none
    }

    init(_ state: State) {
        self.state = state
    }

    /// Runs `body` on the state with the lock held, then wakes waiters (every one unless told otherwise).
    func withLock<Result, Failure: Error>(
        waking: Waking = .all, _ body: (inout State) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        condition.lock()
        defer {
            wake(waking)
            condition.unlock()
        }
        return try body(&state)
    }

    /// Wakes every waiter, after a change made under ``withLock(waking:_:)`` with fewer woken: a waiter checks its
    /// condition under the lock, so one that has not yet waited sees the change, and one that waits gets this.
    func wakeAll() {
        condition.broadcast()
    }

    private func wake(_ waking: Waking) {
        switch waking {
        case .all: condition.broadcast()
        case .one: condition.signal()
        case .none: break
        }
    }

    /// Waits until `ready` holds (or `timeout` passes), then runs `body` with the lock still held and wakes waiters
    /// (every one unless told otherwise). `body` learns whether `ready` held.
    func wait<Result>(
        until ready: (State) -> Bool, timeout: Duration? = nil, waking: Waking = .all,
        then body: (inout State, _ ready: Bool) -> Result
    ) -> Result {
        condition.lock()
        defer {
            wake(waking)
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
