internal import CLibcrypto

/// OpenSSL's secure heap: the memory where libcrypto keeps the private keys it copies (Ed25519 and X25519 keys
/// among them), mapped apart from the ordinary heap, locked against swapping, left out of core dumps and wiped on
/// free. Without it libcrypto copies every key into ordinary heap memory, which a core dump or a read of
/// /proc/PID/mem would show.
public enum SecureHeap {
    /// How the secure heap was set up.
    public enum Outcome: Sendable, Hashable {
        /// Mapped and locked.
        case locked
        /// Mapped, but not locked (RLIMIT_MEMLOCK): keys may be swapped out; they still stay out of core dumps.
        case unlocked
        /// Not set up: keys live in the ordinary heap.
        case unavailable
    }

    /// Sets up a secure heap of `bytes` (a power of two), before any key is made; later calls change nothing.
    @discardableResult
    public static func initialise(bytes: Int = 64 << 10) -> Outcome {
        switch CRYPTO_secure_malloc_init(bytes, 16) {
        case 1: return .locked
        case 2: return .unlocked
        default: return CRYPTO_secure_malloc_initialized() == 1 ? .locked : .unavailable
        }
    }
}
