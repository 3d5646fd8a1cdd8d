import LivenessGate
import NIOConcurrencyHelpers
import NIOCore

/// One of a service's own liveness checks.
public protocol LivenessCheck: Sendable {
    /// Runs the check; a check that has not answered within `deadline` has failed.
    func check(deadline: Duration) async -> LivenessResult
}

/// Passes when every event loop of a group runs a task within the deadline.
///
/// A loop blocked by a stuck system call or a runaway handler cannot run the probe, so the probe's answer is the
/// loop's liveness. The probe is queued on the loop and a timer on the Swift concurrency pool races it; whichever
/// comes first resumes the check, and the loser finds nothing left to resume.
public struct EventLoopLivenessCheck: LivenessCheck {
    private let group: any EventLoopGroup

    /// Checks the loops of `group`.
    public init(group: any EventLoopGroup) {
        self.group = group
        #if DEBUG
            EventLoopWedgeHook.install(for: group)
        #endif
    }

    /// Probes every loop concurrently.
    public func check(deadline: Duration) async -> LivenessResult {
        let loops = Array(group.makeIterator())
        let unresponsive = await withTaskGroup(of: Int?.self) { tasks in
            for (index, loop) in loops.enumerated() {
                tasks.addTask { await Self.probe(loop, deadline: deadline) ? nil : index }
            }
            var unresponsive: [Int] = []
            for await index in tasks {
                if let index { unresponsive.append(index) }
            }
            return unresponsive.sorted()
        }
        if unresponsive.isEmpty { return .passed }
        let list = unresponsive.map(String.init).joined(separator: ", ")
        return .failed(reason: "event loop \(list) of \(loops.count) did not answer within \(deadline)")
    }

    private static func probe(_ loop: any EventLoop, deadline: Duration) async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let pending = NIOLockedValueBox<CheckedContinuation<Bool, Never>?>(continuation)
            loop.execute {
                pending.withLockedValue { $0.take() }?.resume(returning: true)
            }
            Task {
                try? await Task.sleep(for: deadline)
                pending.withLockedValue { $0.take() }?.resume(returning: false)
            }
        }
    }
}
