import DurableFiles
import Foundation
import StreamStore

/// A named set of worker threads with one queue: the only way the store starts a thread (see ``StoreExecutor``).
///
/// Workers start when jobs wait and none is idle, up to ``workerLimit``, and end after a second without work, so a
/// quiet store holds no threads. Each worker keeps one `Context` (a sealing worker's aligned stripe) from its first
/// job until it ends. Threads rather than Swift's concurrency pool or Dispatch, whose widths follow the core count:
/// these jobs block in the kernel, on a disk.
final class WorkerLane<Context>: Sendable {
    typealias Job = @Sendable (Context) -> Void

    let name: String
    let workerLimit: Int
    /// Jobs that may wait; a submitter beyond that waits for room (backpressure). Nil for a lane whose queue is
    /// bounded by its submitters (see ``StoreExecutor``).
    let queueCapacity: Int?
    private let makeContext: @Sendable () -> Context
    private let state = Guarded(State())
    static var idleTimeout: Duration { .seconds(1) }

    private struct State {
        var queue: [Job] = []
        var workers = 0
        var idleWorkers = 0
        var shutDown = false

        func hasRoom(_ capacity: Int?) -> Bool { capacity.map { queue.count < $0 } ?? true }
    }

    init(name: String, workerLimit: Int, queueCapacity: Int? = nil, makeContext: @escaping @Sendable () -> Context) {
        self.name = name
        self.workerLimit = max(1, workerLimit)
        self.queueCapacity = queueCapacity
        self.makeContext = makeContext
    }

    /// Queues `job`, waiting while the queue is full. After ``shutdown()`` the job runs on the caller's thread, so
    /// nothing submitted is ever lost.
    func submit(_ job: @escaping Job) {
        let capacity = queueCapacity
        // Without a capacity only idle workers wait on this lane (and shutdown, which submit never concerns): one of
        // them takes the job. With one, submitters wait too, and every waiter is woken.
        let waking: Guarded<State>.Waking = capacity == nil ? .one : .all
        let queued = state.wait(until: { $0.shutDown || $0.hasRoom(capacity) }, waking: waking) { state, _ -> Bool? in
            guard !state.shutDown else { return nil }
            state.queue.append(job)
            guard state.queue.count > state.idleWorkers, state.workers < workerLimit else { return false }
            state.workers += 1
            return true
        }
        switch queued {
        case nil: job(makeContext())
        case true?: startWorker()
        case false?: break
        }
    }

    /// The workers running now, busy or idle.
    var workerCount: Int { state.withLock(waking: .none) { $0.workers } }

    /// Whether no job waits for a worker (asked between the pieces of every covered segment's write: it wakes no one).
    var isQueueEmpty: Bool { state.withLock(waking: .none) { $0.queue.isEmpty } }

    /// Lets the workers finish every queued job, and returns once every one has left its loop (its thread ends
    /// moments later, touching nothing of the store's). Jobs submitted afterwards run on their submitter's thread.
    func shutdown() {
        state.withLock { $0.shutDown = true }
        state.wait(until: { $0.workers == 0 }) { _, _ in }
    }

    private func startWorker() {
        let thread = Thread { [self] in
            ThreadName.setForCurrentThread("saatkond.\(name)")
            let context = makeContext()
            while let job = nextJob() { job(context) }
        }
        thread.start()
    }

    private func nextJob() -> Job? {
        // Taking a job makes room, which only a submitter to a lane with a capacity waits for.
        let waking: Guarded<State>.Waking = queueCapacity == nil ? .none : .all
        while true {
            let taken = state.withLock(waking: waking) { state -> Job?? in
                if !state.queue.isEmpty { return .some(state.queue.removeFirst()) }
                if state.shutDown {
                    state.workers -= 1
                    return .some(nil)
                }
                state.idleWorkers += 1
                return nil
            }
            if case .some(nil) = taken { state.wakeAll() }  // one worker fewer: shutdown waits for none
            if let taken { return taken }
            let woken = state.wait(
                until: { !$0.queue.isEmpty || $0.shutDown }, timeout: Self.idleTimeout, waking: .none
            ) { state, ready in
                state.idleWorkers -= 1
                if !ready { state.workers -= 1 }
                return ready
            }
            if !woken {
                state.wakeAll()  // one worker fewer, as above
                return nil
            }
        }
    }
}

extension WorkerLane where Context == Void {
    convenience init(name: String, workerLimit: Int, queueCapacity: Int? = nil) {
        self.init(name: name, workerLimit: workerLimit, queueCapacity: queueCapacity, makeContext: {})
    }

    /// Runs every job side by side, the first on the calling thread and the others on this lane's workers, and
    /// throws the first failure once all have finished. Only for jobs that never wait for this lane themselves.
    func runAll(_ jobs: [() throws -> Void]) throws(StreamStorageError) {
        let outcome = Guarded((remaining: jobs.count - 1, failure: StreamStorageError?.none))
        @Sendable func record(_ error: (any Error)?) {
            outcome.withLock(waking: .none) { outcome in
                if let error, outcome.failure == nil {
                    outcome.failure =
                        error as? StreamStorageError
                        ?? StreamStorageError(kind: .io, message: "a parallel job on \(name) failed: \(error)")
                }
            }
        }
        for job in jobs.dropFirst() {
            let carried = UncheckedJob(job)
            submit { _ in
                do { try carried.job() } catch { record(error) }
                // Only the last job's end is what the caller waits for: waking it at each would cost a switch each.
                let last = outcome.withLock(waking: .none) { outcome in
                    outcome.remaining -= 1
                    return outcome.remaining == 0
                }
                if last { outcome.wakeAll() }
            }
        }
        if let first = jobs.first {
            do { try first() } catch { record(error) }
        }
        if let failure = outcome.wait(
            until: { $0.remaining <= 0 }, waking: .none, then: { outcome, _ in outcome.failure })
        {
            throw failure
        }
    }
}

/// Carries a job to a worker. `@unchecked Sendable`: ``WorkerLane/runAll(_:)`` waits for every job before it
/// returns, so whatever a job captures outlives it and is touched by that one thread while the caller waits.
private struct UncheckedJob: @unchecked Sendable {
    let job: () throws -> Void
    init(_ job: @escaping () throws -> Void) { self.job = job }
}
