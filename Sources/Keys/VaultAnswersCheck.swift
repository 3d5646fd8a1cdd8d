import LivenessGate
import NIOConcurrencyHelpers
import NIOPosix
import Watchdog

/// Passes while the vault answers within the deadline: on the appliance, the TPM gives one random byte. A TPM that
/// hangs (a stuck driver, a resource manager that no longer answers) leaves every unwrap and signature waiting; this
/// stops the watchdog's pets then, and systemd restarts the service.
///
/// The question is asked on a thread of its own, and a call that never returns keeps that thread: later checks wait
/// behind it and fail too, until the TPM answers again.
public struct VaultAnswersCheck: LivenessCheck {
    let vault: any KeyVault
    private let pool: NIOThreadPool

    public init(vault: any KeyVault) {
        self.vault = vault
        pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
    }

    public func check(deadline: Duration) async -> LivenessResult {
        let vault = self.vault
        let pool = self.pool
        let outcome = await withCheckedContinuation { (continuation: CheckedContinuation<String?, Never>) in
            let pending = NIOLockedValueBox<CheckedContinuation<String?, Never>?>(continuation)
            pool.submit { _ in
                let failure: String?
                do {
                    try vault.probe()
                    failure = nil
                } catch {
                    failure = "\(error)"
                }
                pending.withLockedValue { $0.take() }?.resume(returning: failure)
            }
            Task {
                try? await Task.sleep(for: deadline)
                pending.withLockedValue { $0.take() }?.resume(returning: "no answer within \(deadline)")
            }
        }
        guard let outcome else { return .passed }
        return .failed(reason: "the TPM does not answer (\(vault.kind)): \(outcome)")
    }
}
