import Foundation
import StoreFormat
import StreamStore

/// Runs blocking file operations on several members at once.
///
/// Flushes on different members are independent, and each waits on its disk: one after another they add up (four
/// journal copies cost four flush times), side by side they cost about one. Threads rather than the concurrency pool
/// or Dispatch, whose widths follow the core count and would serialise calls that block in the kernel.
enum ParallelFlush {
    /// Runs every job, each on its own thread (the first on the calling one), and throws the first failure after all
    /// have finished.
    static func run(_ jobs: [() throws -> Void]) throws(StreamStorageError) {
        let failures = FailureBox()
        let group = DispatchGroup()
        for job in jobs.dropFirst() {
            group.enter()
            let work = UncheckedJob(job)
            Thread.detachNewThread {
                defer { group.leave() }
                do { try work.job() } catch { failures.record(error) }
            }
        }
        if let first = jobs.first {
            do { try first() } catch { failures.record(error) }
        }
        group.wait()
        if let failure = failures.first { throw failure }
    }

    /// Carries a job to its thread. `@unchecked Sendable`: `run` waits for every job before returning, so whatever a
    /// job captures outlives it and is touched by that one thread only while the caller waits.
    private struct UncheckedJob: @unchecked Sendable {
        let job: () throws -> Void
        init(_ job: @escaping () throws -> Void) { self.job = job }
    }

    private final class FailureBox: @unchecked Sendable {
        // @unchecked: `lock` guards `failure`.
        private let lock = NSLock()
        private var failure: StreamStorageError?

        func record(_ error: any Error) {
            let storageError =
                error as? StreamStorageError
                ?? StreamStorageError(kind: .io, message: "a parallel flush failed: \(error)")
            lock.withLock { if failure == nil { failure = storageError } }
        }

        var first: StreamStorageError? { lock.withLock { failure } }
    }
}
