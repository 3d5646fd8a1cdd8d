import DurableFiles
import StoreFormat
import StreamStore
import SystemPackage

/// Reads a file of a member whole, up to the longest it can legitimately be.
///
/// A member's files come from a disk someone else may have had in hand: a shard or journal file made sparse and a
/// terabyte long must be a clear error, not an allocation of its size. So the size is checked before anything is
/// allocated, and the read takes at most one byte more than the limit, which shows a file that grew meanwhile.
enum MemberFile {
    /// The longest a member label can be; it is 42 bytes.
    static let labelLimit = 4096

    /// Reads the file whole; `failed` is told of an error the system gave (for ``MemberError``).
    static func read(
        _ path: FilePath, limit: Int, what: String, failed: (any Error) -> Void = { _ in }
    ) throws(StreamStorageError) -> [UInt8] {
        let size: UInt64
        do {
            size = try FileSystemCalls.size(at: path)
        } catch {
            failed(error)
            throw .io("reading the \(what)", path: path.string, error: error)
        }
        return try read(path, size: size, limit: limit, what: what, failed: failed)
    }

    /// Like ``read(_:limit:what:)``, but nil when there is no such file: only absence is absence. A file that exists
    /// and cannot be read (EIO, EACCES) throws, so that no caller mistakes a failing disk for a blank one.
    static func readIfPresent(
        _ path: FilePath, limit: Int, what: String, failed: (any Error) -> Void = { _ in }
    ) throws(StreamStorageError) -> [UInt8]? {
        let size: UInt64
        do {
            size = try FileSystemCalls.size(at: path)
        } catch .noSuchFileOrDirectory {
            return nil
        } catch {
            failed(error)
            throw .io("reading the \(what)", path: path.string, error: error)
        }
        return try read(path, size: size, limit: limit, what: what, failed: failed)
    }

    /// Reads the file whose size a stat just gave, checking that size before allocating anything.
    private static func read(
        _ path: FilePath, size: UInt64, limit: Int, what: String, failed: (any Error) -> Void
    ) throws(StreamStorageError) -> [UInt8] {
        guard size <= UInt64(limit) else { throw tooLong(path, size: size, limit: limit, what: what) }
        var bytes = [UInt8](repeating: 0, count: Int(size) + 1)
        let count: Int
        do {
            count = try bytes.withUnsafeMutableBytes { try FileSystemCalls.read(path, into: $0) }
        } catch {
            failed(error)
            throw .io("reading the \(what)", path: path.string, error: error)
        }
        guard count <= limit else { throw tooLong(path, size: UInt64(count), limit: limit, what: what) }
        bytes.removeLast(bytes.count - count)
        return bytes
    }

    private static func tooLong(_ path: FilePath, size: UInt64, limit: Int, what: String) -> StreamStorageError {
        .corrupt(
            "the \(what) \(path) is \(size) bytes long, more than the \(limit) it can be: it is damaged, or was "
                + "altered, and is not read")
    }
}
