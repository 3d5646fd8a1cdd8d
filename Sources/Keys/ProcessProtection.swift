import CryptoPrimitives
import DurableFiles
import Logging

/// What a process that holds keys does before it makes the first one: it stops being dumpable (no core file, no
/// ptrace or /proc/PID/mem for its own user) and gives libcrypto a locked secure heap for the keys it copies. Each
/// step that fails is reported, once, and the process goes on: a key in swappable memory is worse than none lost,
/// but better than an appliance that does not start.
public enum ProcessProtection {
    public static func protect(logger: Logger) {
        do {
            try ProcessCalls.forbidCoreDumps()
        } catch {
            logger.error(
                "cannot make the process non-dumpable: a core dump could hold key material",
                metadata: ["error": "\(error)"])
        }
        switch SecureHeap.initialise() {
        case .locked: break
        case .unlocked:
            logger.warning("libcrypto's secure heap is not locked in memory (RLIMIT_MEMLOCK): keys may be swapped out")
        case .unavailable:
            logger.error("libcrypto has no secure heap: the keys it copies live in the ordinary heap")
        }
    }

    /// Reports keys that could not be locked in memory (RLIMIT_MEMLOCK exhausted); they are still wiped and left out
    /// of core dumps.
    public static func reportUnlocked(_ keys: [(String, SecretBytes)], logger: Logger) {
        let unlocked = keys.filter { !$0.1.isMemoryLocked }.map(\.0)
        if !unlocked.isEmpty {
            logger.warning(
                "keys are not locked in memory (RLIMIT_MEMLOCK): they may be swapped out",
                metadata: ["keys": "\(unlocked.joined(separator: ", "))"])
        }
    }
}
