import NIOConcurrencyHelpers
import NIOPosix

/// A check's probe that may block (a TPM command, a write to a disk): run on `pool`, a thread the check keeps for
/// itself, and waited for at most `deadline`. Returns the probe's failure, or "no answer within …" when it is late;
/// nil when it passed. A probe that never returns keeps the thread, so later probes wait behind it and are late too,
/// until it returns: the check fails for as long as the part it asks hangs.
public func probeOnOwnThread(
    _ pool: NIOThreadPool, deadline: Duration, _ probe: @escaping @Sendable () -> String?
) async -> String? {
    await withCheckedContinuation { (continuation: CheckedContinuation<String?, Never>) in
        let pending = NIOLockedValueBox<CheckedContinuation<String?, Never>?>(continuation)
        pool.submit { _ in
            let failure = probe()
            pending.withLockedValue { $0.take() }?.resume(returning: failure)
        }
        Task {
            try? await Task.sleep(for: deadline)
            pending.withLockedValue { $0.take() }?.resume(returning: "no answer within \(deadline)")
        }
    }
}
