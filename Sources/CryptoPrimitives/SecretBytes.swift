internal import CLibcrypto
internal import DurableFiles

/// Key material: bytes kept in memory that is locked against swapping where the system allows it, left out of
/// core dumps on Linux, and wiped with `OPENSSL_cleanse` when the last reference goes away.
///
/// Each value occupies whole pages of its own (4 KiB for a 32-byte key), because `munlock` is not counted: if
/// two secrets shared a page, freeing one would unlock the other. The bytes never appear in `description`,
/// `debugDescription` or `dump`.
///
/// Thread safety: the bytes are written only during initialisation and are read-only afterwards, and `deinit`
/// runs only once no reference remains, so sharing a value between threads is safe.
public final class SecretBytes: @unchecked Sendable {
    private let region: UnsafeMutableRawPointer
    private let regionByteCount: Int

    /// The number of secret bytes.
    public let count: Int

    /// Whether the bytes are locked in RAM; false when `RLIMIT_MEMLOCK` is exhausted, in which case the bytes
    /// may be swapped out but are still wiped when released.
    public let isMemoryLocked: Bool

    /// Creates `count` secret bytes written directly into locked memory by `initializer`, so that they never
    /// exist in an ordinary, unwiped buffer.
    ///
    /// The buffer starts zeroed. If `initializer` throws, the memory is wiped and released, and the error is
    /// rethrown.
    public init(
        count: Int,
        initializingWith initializer: (UnsafeMutableRawBufferPointer) throws -> Void
    ) rethrows {
        precondition(count >= 0, "SecretBytes count must not be negative")
        let pageSize = ProcessCalls.pageSize
        let byteCount = max(1, (count + pageSize - 1) / pageSize) * pageSize
        let region = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: pageSize)
        region.initializeMemory(as: UInt8.self, repeating: 0, count: byteCount)
        let locked = ProcessCalls.lockSecretPages(region, byteCount: byteCount)
        do {
            try initializer(UnsafeMutableRawBufferPointer(start: region, count: count))
        } catch {
            SecretBytes.release(region: region, byteCount: byteCount, locked: locked)
            throw error
        }
        self.region = region
        self.regionByteCount = byteCount
        self.count = count
        self.isMemoryLocked = locked
    }

    /// Copies `bytes` into locked memory. The caller's array is not wiped; prefer `init(count:initializingWith:)`
    /// or a function that returns `SecretBytes` when the bytes come from somewhere else.
    public convenience init(_ bytes: [UInt8]) {
        self.init(count: bytes.count) { destination in
            bytes.withUnsafeBytes { destination.copyMemory(from: $0) }
        }
    }

    deinit {
        SecretBytes.release(region: region, byteCount: regionByteCount, locked: isMemoryLocked)
    }

    /// Gives `body` read access to the secret bytes. The pointer is valid only inside `body`; do not copy the
    /// bytes into ordinary arrays unless they stop being secret.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: region, count: count))
    }

    private static func release(region: UnsafeMutableRawPointer, byteCount: Int, locked: Bool) {
        OPENSSL_cleanse(region, byteCount)
        // The pages go back to the allocator: their ordinary core-dump behaviour and lock state first.
        ProcessCalls.unlockSecretPages(region, byteCount: byteCount, locked: locked)
        region.deallocate()
    }
}

extension SecretBytes: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// Says how many bytes there are, never what they are.
    public var description: String {
        "SecretBytes(\(count) bytes, redacted)"
    }

    /// Same as `description`: debug output must not leak key material either.
    public var debugDescription: String {
        description
    }

    /// A mirror with no children, so that `dump` and reflection-based loggers cannot reach the bytes.
    public var customMirror: Mirror {
        Mirror(self, children: [], displayStyle: .class)
    }
}
