import LivenessGate
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
        let outcome = await probeOnOwnThread(pool, deadline: deadline) {
            do {
                try vault.probe()
                return nil
            } catch {
                return "\(error)"
            }
        }
        guard let outcome else { return .passed }
        return .failed(reason: "the TPM does not answer (\(vault.kind)): \(outcome)")
    }
}
