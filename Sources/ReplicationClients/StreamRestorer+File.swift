import DurableFiles
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
            descriptor = try FileSystemCalls.open(
                partial, .writeOnly, options: [.create, .truncate, .closeOnExec], permissions: [.ownerReadWrite])
        } catch {
            throw ReplicationError.localIO("cannot create \(partial): \(error)")
        }
        var written: UInt64 = 0
        var failure: (any Error)?
        do {
            written = try await restore(
                stream: stream, to: descriptor, expectedHead: expectedHead, progress: progress)
        } catch {
            failure = error
        }
        if failure == nil {
            do {
                try FileSystemCalls.synchronise(descriptor)
            } catch {
                failure = ReplicationError.localIO("cannot flush \(partial): \(error)")
            }
        }
        do {
            try FileSystemCalls.close(descriptor)
        } catch {
            failure = failure ?? ReplicationError.localIO("cannot close \(partial): \(error)")
        }
        if failure == nil {
            do {
                try FileSystemCalls.rename(partial, to: path)
            } catch {
                failure = ReplicationError.localIO("cannot rename \(partial) to \(path): \(error)")
            }
        }
        if let failure {
            // What is left of the partial file is no copy of anything; if it cannot be removed either, the restore's
            // own failure is what the caller needs to hear.
            try? FileSystemCalls.remove(partial)
            throw failure
        }
        // The rename is durable only once the directory is flushed: until then a power cut may undo it.
        var directory = path
        directory.removeLastComponent()
        do {
            try FileSystemCalls.synchroniseDirectory(directory.isEmpty ? "." : directory)
        } catch {
            throw ReplicationError.localIO(
                "restored \(path), but its directory could not be flushed (\(error)): a power cut may still lose it")
        }
        return written
    }
}
