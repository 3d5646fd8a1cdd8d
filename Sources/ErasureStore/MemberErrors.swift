import StreamStore
import Synchronization
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// An error the operating system gave the store for a file on a member: what `saatkond disks` counts to take a
/// member from healthy to suspect to failed.
public struct MemberError: Sendable, Hashable, CustomStringConvertible {
    /// The member's position in the array.
    public var member: Int
    /// The file or directory the call was on.
    public var path: String
    /// The error number (`EIO`, `ENOSPC`, `EROFS`, …).
    public var errno: Int32
    /// What the store was doing: `write`, `flush`, `read`, `create`, `read label`, …
    public var operation: String

    public init(member: Int, path: String, errno: Int32, operation: String) {
        self.member = member
        self.path = path
        self.errno = errno
        self.operation = operation
    }

    public var description: String {
        "member \(member): \(operation) \(path): \(Errno(rawValue: errno))"
    }
}

/// The observers of a store's member errors.
final class MemberErrorObservers: Sendable {
    private let observers = Mutex<[@Sendable (MemberError) -> Void]>([])

    func add(_ observer: @escaping @Sendable (MemberError) -> Void) {
        observers.withLock { $0.append(observer) }
    }

    /// Tells every observer of `error`, unless it only says that a file or directory is not there: a member that is
    /// unmounted or moved away is absent (``ErasureCodedStore/absentMemberIndices()``), not failing, and a missing
    /// shard is what reads and rebuilds look for.
    func report(member: Int, path: String, error: any Error, operation: String) {
        guard let errno = error as? Errno, !Self.notAFault.contains(errno) else { return }
        let current = observers.withLock { $0 }
        guard !current.isEmpty else { return }
        let reported = MemberError(member: member, path: path, errno: errno.rawValue, operation: operation)
        for observer in current { observer(reported) }
    }

    private static let notAFault: Set<Errno> = [
        .noSuchFileOrDirectory, .notDirectory, .fileExists, .resourceTemporarilyUnavailable, .interrupted,
    ]
}

extension StreamStorageError {
    /// An I/O failure on a member, keeping the system's error number (``systemErrorNumber``).
    static func memberIO(
        _ operation: String, path: String, error: any Error, file: String = #fileID, line: Int = #line
    ) -> Self {
        var failure = Self.io(operation, path: path, error: error, file: file, line: line)
        failure.systemErrorNumber = (error as? Errno)?.rawValue
        return failure
    }

    /// Whether the failure is what a member that vanished gives: its files or directory gone (ENOENT, ENOTDIR: an
    /// unmounted disk, a directory moved away), its device gone or shut down (EIO, ENXIO, ENODEV, ESTALE,
    /// ESHUTDOWN), or its label gone (``ErasureCodedStore/requireLayout(_:)``). A full disk (ENOSPC) is not: it is
    /// still there, and fails the write.
    var isVanishing: Bool {
        guard let number = systemErrorNumber else { return kind == .unavailable }
        return [ENOENT, ENOTDIR, EIO, ENXIO, ENODEV, ESTALE, ESHUTDOWN].contains(number)
    }
}
