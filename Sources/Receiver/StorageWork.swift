import NIOConcurrencyHelpers
import NIOCore

/// The storage operations of a server's connections still running on the thread pool, so that shutdown ends only
/// when the last of them has: a connection that closed has usually handed its appender back to the pool to close,
/// and that close must not outlive the server (a test removing the array's directories, a process exiting).
final class StorageWork: Sendable {
    private struct State {
        var running = 0
        var nextWaiter = 0
        var waiters: [Int: CheckedContinuation<Bool, Never>] = [:]
    }

    private let state = NIOLockedValueBox(State())

    func begin() {
        state.withLockedValue { $0.running += 1 }
    }

    func end() {
        let waiters = state.withLockedValue { state -> [CheckedContinuation<Bool, Never>] in
            state.running -= 1
            guard state.running == 0 else { return [] }
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume(returning: true) }
    }

    /// Returns true once no operation is running, or false after `period` if one still is: a disk that hangs must
    /// not hang the shutdown with it.
    func idle(within period: TimeAmount, on eventLoop: any EventLoop) async -> Bool {
        await withCheckedContinuation { continuation in
            let waiter = state.withLockedValue { state -> Int? in
                guard state.running > 0 else { return nil }
                let id = state.nextWaiter
                state.nextWaiter += 1
                state.waiters[id] = continuation
                return id
            }
            guard let waiter else { return continuation.resume(returning: true) }
            eventLoop.scheduleTask(in: period) { [self] in
                let late = state.withLockedValue { $0.waiters.removeValue(forKey: waiter) }
                late?.resume(returning: false)
            }
        }
    }
}
