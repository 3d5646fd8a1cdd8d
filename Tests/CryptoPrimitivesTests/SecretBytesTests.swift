import CryptoPrimitives
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Whether this process may lock at least 1 MiB, so that a 4 KiB secret must end up locked.
let canLockMemory: Bool = {
    #if canImport(Glibc)
        if geteuid() == 0 {
            return true
        }
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(__RLIMIT_MEMLOCK.rawValue), &limit) == 0 else {
            return false
        }
        // RLIM_INFINITY is (rlim_t)-1, which Swift cannot import as a literal.
        return limit.rlim_cur == rlim_t.max || limit.rlim_cur >= 1 << 20
    #else
        return false
    #endif
}()

@Suite struct SecretBytesTests {
    /// A recognisable key: if any rendering contained it, hex or decimal, the test would see it.
    static let key: [UInt8] = [0xde, 0xad, 0xbe, 0xef, 0xca, 0xfe, 0xba, 0xbe] + Array(repeating: 0xa5, count: 24)

    @Test func holdsTheBytes() {
        let secret = SecretBytes(Self.key)
        #expect(secret.count == 32)
        #expect(secret.bytes == Self.key)
    }

    @Test func renderingsNeverShowTheBytes() {
        let secret = SecretBytes(Self.key)
        var dumped = ""
        dump(secret, to: &dumped)
        let renderings = [
            String(describing: secret), String(reflecting: secret), "\(secret)", dumped, "\([secret])",
        ]
        for rendering in renderings {
            #expect(!rendering.lowercased().contains("dead"), "\(rendering)")
            #expect(!rendering.contains("222"), "\(rendering)")  // 0xde
            #expect(!rendering.contains("165"), "\(rendering)")  // 0xa5
            #expect(rendering.contains("SecretBytes"), "\(rendering)")
        }
    }

    @Test(.enabled(if: canLockMemory, "RLIMIT_MEMLOCK is below 1 MiB and this is not root"))
    func secretIsLockedInMemory() {
        #expect(SecretBytes(Self.key).isMemoryLocked)
    }

    @Test func initializerWritesIntoTheSecret() throws {
        let secret = SecretBytes(count: 5) { buffer in
            for index in buffer.indices {
                buffer[index] = UInt8(index * 3)
            }
        }
        #expect(secret.bytes == [0, 3, 6, 9, 12])
    }

    @Test func throwingInitializerPropagatesItsError() {
        struct Refused: Error {}
        #expect(throws: Refused.self) {
            try SecretBytes(count: 32) { _ in throw Refused() }
        }
    }

    @Test func emptyAndMultiPageSecrets() {
        #expect(SecretBytes([]).count == 0)
        #expect(SecretBytes([]).bytes == [])
        let large = [UInt8](repeating: 0x42, count: 3 * 4096 + 17)
        #expect(SecretBytes(large).bytes == large)
    }

    @Test func randomSecretsDiffer() throws {
        let first = try CryptoRandom.secretBytes(count: 32)
        let second = try CryptoRandom.secretBytes(count: 32)
        #expect(first.count == 32)
        // Equal 256-bit random values would mean the generator is broken (probability 2^-256).
        #expect(first.bytes != second.bytes)
    }
}

@Suite struct CryptoRandomTests {
    @Test func bytesHaveTheRequestedCountAndDiffer() throws {
        let first = try CryptoRandom.bytes(count: 64)
        let second = try CryptoRandom.bytes(count: 64)
        #expect(first.count == 64)
        #expect(first != second)
        #expect(try CryptoRandom.bytes(count: 0) == [])
    }

    @Test func negativeCountIsRejected() {
        #expect(throws: CryptoError.invalidArgument()) { try CryptoRandom.bytes(count: -1) }
        #expect(throws: CryptoError.invalidArgument()) { try CryptoRandom.secretBytes(count: -1) }
    }
}
