import DurableFiles
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

extension CustodyLog {
    /// What reading the file found: its verified head and the length of its complete lines.
    struct Verified {
        var head: CustodyRecord?
        var headLineHash: String?
        var length: Int64
        var imported: [String: ImportedPosition] = [:]
        var history = ServiceHistory()
    }

    /// Opens the file for reading and appending; a new one is created with mode 0640 whatever the umask, and its
    /// directory flushed, so that the empty log survives a power cut as well as its first record does.
    static func openOrCreate(_ path: FilePath) throws(CustodyLogError) -> FileDescriptor {
        do {
            return try FileSystemCalls.open(path, .readWrite, options: [.closeOnExec])
        } catch {
            guard error == .noSuchFileOrDirectory else { throw .fileSystem(error, "open", path) }
        }
        let descriptor: FileDescriptor
        do {
            descriptor = try FileSystemCalls.open(
                path, .readWrite, options: [.create, .exclusiveCreate, .closeOnExec],
                permissions: [.ownerReadWrite, .groupRead])
        } catch {
            throw .fileSystem(error, "create", path)
        }
        do {
            try FileSystemCalls.retryingInterrupts { fchmod(descriptor.rawValue, 0o640) }
            var directory = path
            directory.removeLastComponent()
            try FileSystemCalls.synchroniseDirectory(directory.isEmpty ? "." : directory)
        } catch {
            FileSystemCalls.release(descriptor)
            throw .fileSystem(error, "create", path)
        }
        return descriptor
    }

    /// Reads the file in pieces of 1 MiB, verifying each line as it completes, and cuts off a torn last line.
    static func readAndRepair(
        _ descriptor: FileDescriptor, path: FilePath
    ) throws(CustodyLogError) -> (Verified, Repair?) {
        var verifier = ChainVerifier(fromStart: true)
        var verified = Verified(head: nil, headLineHash: nil, length: 0)
        var pending: [UInt8] = []
        var offset: Int64 = 0
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 1)
        defer { chunk.deallocate() }
        while true {
            let count: Int
            do {
                count = try FileSystemCalls.read(descriptor, at: offset, into: chunk)
            } catch {
                throw .fileSystem(error, "read", path)
            }
            if count == 0 { break }
            offset += Int64(count)
            pending.append(contentsOf: chunk[..<count])
            var start = 0
            while let end = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
                let record = try verifier.accept(pending[start..<end])
                if let position = ImportedPosition(of: record) { verified.imported[position.source] = position }
                verified.history.observe(record)
                verified.head = record
                verified.length += Int64(end - start + 1)
                start = end + 1
            }
            pending.removeFirst(start)
            if pending.count > CustodyRecord.maximumLineBytes {
                throw CustodyLogError(
                    .lineTooLong, line: verifier.lineNumber + 1,
                    "more than \(CustodyRecord.maximumLineBytes) bytes without a newline: this is not a torn append; "
                        + "the log is kept as it is for inspection")
            }
        }
        verified.headLineHash = verifier.previousLineHash
        guard !pending.isEmpty else { return (verified, nil) }
        // What follows the last newline is the part of one line that a crash let reach the disk: the append that
        // wrote it never returned, so no one was told it was recorded, and cutting it loses no promise.
        do {
            try FileSystemCalls.resize(descriptor, to: verified.length)
            try FileSystemCalls.synchronise(descriptor)
        } catch {
            throw .fileSystem(error, "cut the torn last line of", path)
        }
        return (verified, Repair(line: verifier.lineNumber + 1, discardedBytes: pending.count))
    }
}
