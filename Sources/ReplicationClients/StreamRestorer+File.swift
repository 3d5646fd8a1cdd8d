import DurableFiles
import Foundation
import HashChain
import ReplicationTransport
import SystemPackage

extension StreamRestorer {
    /// Restores `stream` into the file at `path`, which appears only once it is complete and durable.
    ///
    /// The bytes go to `<path>.partial~` first; after the whole stream arrived, that file is flushed and renamed
    /// over `path`, and the directory is flushed. A restore that fails leaves no file that could pass for a
    /// complete copy: the partial file is removed — except, with `resume`, after a broken connection, when it is
    /// kept so that the next restore with `resume` continues it. That one hashes what the partial file holds and
    /// fetches only the rest; the whole stream's head must then be the appliance's, or the partial file is removed
    /// as no copy of anything.
    public func restore(
        stream: String, toFileAt path: FilePath, expectedHead: ExpectedHead? = nil, resume: Bool = false,
        progress: @escaping @Sendable (_ written: UInt64, _ total: UInt64) -> Void = { _, _ in }
    ) async throws -> UInt64 {
        // `~` ends no stream name: restoring `X` never meets the file of a stream named `X.partial` (PostgreSQL
        // archives such files) in the same directory.
        let partial = FilePath(path.string + ".partial~")
        let descriptor: FileDescriptor
        var chain: StreamHashChain?
        do {
            let keep = resume && FileSystemCalls.exists(partial)
            descriptor = try FileSystemCalls.open(
                partial, keep ? .readWrite : .writeOnly,
                options: keep ? [.closeOnExec] : [.create, .truncate, .closeOnExec],
                permissions: [.ownerReadWrite])
            if keep { chain = try StreamHashChain.reading(descriptor) }
        } catch {
            throw ReplicationError.localIO("cannot open \(partial): \(error)")
        }
        var written: UInt64 = 0
        var failure: (any Error)?
        do {
            written = try await restore(
                stream: stream, from: chain?.length ?? 0, to: descriptor, expectedHead: expectedHead, continuing: chain,
                progress: progress)
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
            if resume, let broken = failure as? ReplicationError, broken.kind == .connection {
                throw broken
            }
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

extension StreamHashChain {
    /// The chain over everything `descriptor` holds from where it stands, which is left positioned at its end for
    /// the bytes that follow: a partial restore's file, or home's copy of a stream.
    static func reading(_ descriptor: FileDescriptor) throws -> StreamHashChain {
        var chain = StreamHashChain()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = try FileSystemCalls.readSome(descriptor, into: buffer)
            if count == 0 { return chain }
            chain.append(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
        }
    }
}
