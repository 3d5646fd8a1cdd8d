import Foundation
import ReplicationTransport
import SystemPackage

extension StreamRestorer {
    /// Restores `stream` into the file at `path`, which appears only once it is complete and durable.
    ///
    /// The bytes go to `<path>.partial` first; after the whole stream arrived, that file is flushed and renamed
    /// over `path`, and the directory is flushed. A restore that fails leaves no file that could pass for a
    /// complete copy: the partial file is removed.
    public func restore(
        stream: String, toFileAt path: FilePath, expectedHead: ExpectedHead? = nil,
        progress: @escaping @Sendable (_ written: UInt64, _ total: UInt64) -> Void = { _, _ in }
    ) async throws -> UInt64 {
        let partial = FilePath(path.string + ".partial")
        let descriptor: FileDescriptor
        do {
            descriptor = try FileDescriptor.open(
                partial, .writeOnly, options: [.create, .truncate, .closeOnExec], permissions: [.ownerReadWrite])
        } catch {
            throw ReplicationError.localIO("cannot create \(partial): \(error)")
        }
        var written: UInt64 = 0
        var failure: (any Error)?
        do {
            written = try await restore(
                stream: stream, to: descriptor, expectedHead: expectedHead, progress: progress)
            if fsync(descriptor.rawValue) != 0 {
                failure = ReplicationError.localIO("cannot flush \(partial): \(Errno(rawValue: errno))")
            }
        } catch {
            failure = error
        }
        do {
            try descriptor.close()
        } catch {
            failure = failure ?? ReplicationError.localIO("cannot close \(partial): \(error)")
        }
        if failure == nil, rename(partial.string, path.string) != 0 {
            failure = ReplicationError.localIO("cannot rename \(partial) to \(path): \(Errno(rawValue: errno))")
        }
        if let failure {
            unlink(partial.string)
            throw failure
        }
        // The rename is only durable once the directory is flushed; a failure here loses nothing restored.
        var directory = path
        directory.removeLastComponent()
        if let parent = try? FileDescriptor.open(
            directory.isEmpty ? "." : directory, .readOnly, options: [.directory, .closeOnExec])
        {
            _ = fsync(parent.rawValue)
            try? parent.close()
        }
        return written
    }
}
