import CLinuxCalls
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// The calls about the process itself and its memory that the appliance makes: kept beside the file calls, so that
/// every call into the kernel goes through this module.
public enum ProcessCalls {
    /// Bounds glibc's heap: at most `arenas` malloc arenas, and blocks of `mappedFrom` bytes or more mapped on their
    /// own (see the appliance's `ProcessHeap`). Returns whether both settings took.
    public static func boundHeap(arenas: Int, mappedFrom threshold: Int) -> Bool {
        saatkond_bound_heap(Int32(arenas), Int32(threshold)) == 1
    }

    /// Makes the process non-dumpable: no core file, and no ptrace or /proc/PID/mem for its own user.
    public static func forbidCoreDumps() throws(Errno) {
        if saatkond_forbid_core_dumps() != 0 { throw Errno(rawValue: errno) }
    }

    /// Whether `descriptor` is a terminal (progress lines are drawn only there).
    public static func isTerminal(_ descriptor: FileDescriptor) -> Bool {
        isatty(descriptor.rawValue) == 1
    }

    /// The device and inode of what `descriptor` is open on, or nil when it cannot be told.
    public static func identity(of descriptor: FileDescriptor) -> (device: UInt64, inode: UInt64)? {
        var status = stat()
        guard fstat(descriptor.rawValue, &status) == 0 else { return nil }
        return (UInt64(status.st_dev), UInt64(status.st_ino))
    }

    /// The size of a memory page.
    public static let pageSize: Int = {
        let size = sysconf(Int32(_SC_PAGESIZE))
        return size > 0 ? size : 4096
    }()

    /// Locks pages in memory (never swapped) and leaves them out of core dumps; returns whether the lock took
    /// (RLIMIT_MEMLOCK may refuse it; the core-dump exclusion is made either way).
    public static func lockSecretPages(_ region: UnsafeMutableRawPointer, byteCount: Int) -> Bool {
        let locked = mlock(region, byteCount) == 0
        _ = madvise(region, byteCount, MADV_DONTDUMP)
        return locked
    }

    /// Undoes ``lockSecretPages(_:byteCount:)`` once the pages are wiped, before they go back to the allocator. Its
    /// failures are dropped: the pages are released whatever the kernel says about their lock.
    public static func unlockSecretPages(_ region: UnsafeMutableRawPointer, byteCount: Int, locked: Bool) {
        _ = madvise(region, byteCount, MADV_DODUMP)
        if locked { _ = munlock(region, byteCount) }
    }
}
