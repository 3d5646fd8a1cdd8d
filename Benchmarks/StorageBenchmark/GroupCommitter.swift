import Foundation
import StreamStore

/// Lets many threads append to one stream (the small-appends benchmark's many writers; the appliance gives each
/// stream one writer, so this lives here), each waiting for its own bytes to be durable, while sharing flushes.
///
/// Appends are queued; one committer thread takes everything queued, appends it in order, makes it durable once,
/// and wakes every waiter whose bytes that flush covered. While a flush runs, new appends queue up and go out
/// together with the next one, so the number of flushes adapts to the load (group commit).
final class GroupCommitter: @unchecked Sendable {
    // @unchecked: every mutable field is touched only with `condition` locked, except `appender`, which only the
    // committer thread uses after `init`, and each waiter's outcome, written by the committer before it signals that
    // waiter's semaphore and read by the waiter only after.

    /// One waiting append. Each waiter sleeps on a semaphore of its own, so a commit wakes exactly the appends it
    /// covered: one condition shared by all woke every waiter at every submit and every commit, and sixteen threads
    /// on two cores spent more time waking and sleeping again than the flush took.
    private final class Pending: @unchecked Sendable {
        let bytes: [UInt8]
        let done = DispatchSemaphore(value: 0)
        var outcome: Result<UInt64, StreamStorageError>?

        init(bytes: [UInt8]) { self.bytes = bytes }
    }

    private let appender: any StreamAppender
    /// Wakes the committer when the queue fills or the committer should stop.
    private let condition = NSCondition()
    private var queue: [Pending] = []
    private var stopping = false
    private var thread: Thread?

    /// Takes over `appender`; no one else may use it until ``close()``.
    init(appender: any StreamAppender) {
        self.appender = appender
        let thread = Thread { [unowned self] in self.commitLoop() }
        thread.name = "saatkond.group-commit.\(appender.name)"
        self.thread = thread
        thread.start()
    }

    /// Appends `bytes` and returns once they are durable, with the durable length then.
    func appendDurably(_ bytes: [UInt8]) throws(StreamStorageError) -> UInt64 {
        let pending = Pending(bytes: bytes)
        condition.lock()
        guard !stopping else {
            condition.unlock()
            throw StreamStorageError(kind: .io, message: "the group committer of \(appender.name) is closed")
        }
        queue.append(pending)
        condition.signal()
        condition.unlock()
        pending.done.wait()
        return try pending.outcome!.get()
    }

    /// Finishes what is queued, stops the committer and closes the appender.
    func close() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while thread != nil { condition.wait() }
        condition.unlock()
        appender.close()
    }

    private func commitLoop() {
        condition.lock()
        while true {
            while queue.isEmpty && !stopping { condition.wait() }
            if queue.isEmpty && stopping { break }
            let batch = queue
            queue = []
            condition.unlock()
            let outcome: Result<UInt64, StreamStorageError>
            do {
                for pending in batch {
                    try pending.bytes.withUnsafeBytes { bytes in try appender.append(bytes) }
                }
                outcome = .success(try appender.makeDurable())
            } catch let error as StreamStorageError {
                outcome = .failure(error)
            } catch {
                outcome = .failure(StreamStorageError(kind: .io, message: "\(error)"))
            }
            for pending in batch {
                pending.outcome = outcome
                pending.done.signal()
            }
            condition.lock()
        }
        thread = nil
        condition.broadcast()
        condition.unlock()
    }
}
