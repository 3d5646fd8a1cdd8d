import CLinuxCalls
import SystemPackage

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The few calls swift-system does not offer (fsync, fdatasync, flock, fstat, rename, unlink), funnelled through
/// one place that retries EINTR and turns a failure into an `Errno`, so no raw `Int32` result escapes.
public enum FileSystemCalls {
    public static func retryingInterrupts(_ call: () -> Int32) throws(Errno) {
        while true {
            if call() == 0 { return }
            let error = Errno(rawValue: errno)
            if error != .interrupted { throw error }
        }
    }

    /// Opens `path` (open(2), again after an interrupt): the one way the engine and the clients open a file, so that
    /// a test can fail it (``InjectedFaults``).
    public static func open(
        _ path: FilePath, _ mode: FileDescriptor.AccessMode, options: FileDescriptor.OpenOptions = [],
        permissions: FilePermissions? = nil
    ) throws(Errno) -> FileDescriptor {
        if case .error(let error)? = InjectedFaults.fault(.open, atPath: path.string) { throw error }
        do {
            return try FileDescriptor.open(path, mode, options: options, permissions: permissions)
        } catch {
            throw error as? Errno ?? .ioError
        }
    }

    /// Reads at most `buffer.count` bytes at `offset` (one pread(2), again after an interrupt); 0 at the end.
    public static func read(
        _ descriptor: FileDescriptor, at offset: Int64, into buffer: UnsafeMutableRawBufferPointer
    ) throws(Errno) -> Int {
        if case .error(let error)? = InjectedFaults.fault(.read, on: descriptor) { throw error }
        do {
            return try descriptor.read(fromAbsoluteOffset: offset, into: buffer)
        } catch {
            throw error as? Errno ?? .ioError
        }
    }

    /// Reads at most `buffer.count` bytes from the current position (one read(2), again after an interrupt): a pipe
    /// as well as a file; 0 at the end.
    public static func readSome(
        _ descriptor: FileDescriptor, into buffer: UnsafeMutableRawBufferPointer
    ) throws(Errno)
        -> Int
    {
        if case .error(let error)? = InjectedFaults.fault(.read, on: descriptor) { throw error }
        do {
            return try descriptor.read(into: buffer)
        } catch {
            throw error as? Errno ?? .ioError
        }
    }

    /// Writes all of `bytes` at the current position (a pipe as well as a file).
    public static func writeAll(_ descriptor: FileDescriptor, _ bytes: UnsafeRawBufferPointer) throws(Errno) {
        try writeAll(descriptor, gathering: [bytes])
    }

    /// Sets the file's length (ftruncate(2)).
    public static func resize(_ descriptor: FileDescriptor, to length: Int64) throws(Errno) {
        do {
            try descriptor.resize(to: length)
        } catch {
            throw error as? Errno ?? .ioError
        }
    }

    /// Moves the position (lseek(2)) and returns the new one; fails on a pipe.
    public static func seek(
        _ descriptor: FileDescriptor, to offset: Int64, from origin: FileDescriptor.SeekOrigin = .start
    ) throws(Errno) -> Int64 {
        do {
            return try descriptor.seek(offset: offset, from: origin)
        } catch {
            throw error as? Errno ?? .ioError
        }
    }

    /// Flushes the file's data and the metadata needed to read it back (its size), not its times.
    public static func synchroniseData(_ descriptor: FileDescriptor) throws(Errno) {
        try injectedFlushFault(descriptor)
        try retryingInterrupts { fdatasync(descriptor.rawValue) }
    }

    private static func injectedFlushFault(_ descriptor: FileDescriptor) throws(Errno) {
        if case .error(let error)? = InjectedFaults.fault(.flush, on: descriptor) { throw error }
    }

    /// Writes all of `bytes` at `offset` (`pwrite`, again after a short write or an interrupt).
    public static func writeAll(
        _ descriptor: FileDescriptor, _ bytes: UnsafeRawBufferPointer, at offset: Int64
    ) throws(Errno) {
        var done = 0
        while done < bytes.count {
            var count = bytes.count - done
            switch InjectedFaults.fault(.write, on: descriptor) {
            case .error(let error)?: throw error
            case .shortWrite(let limit)?: count = min(count, max(1, limit))
            case nil: break
            }
            let written = pwrite(descriptor.rawValue, bytes.baseAddress! + done, count, off_t(offset) + done)
            if written < 0 {
                let error = Errno(rawValue: errno)
                if error == .interrupted { continue }
                throw error
            }
            // A regular file accepts something or fails; zero bytes would loop forever.
            if written == 0 { throw Errno.ioError }
            done += written
        }
    }

    /// Starts writing the file's dirty pages to its disk without waiting for them, so the disk works while the
    /// caller goes on computing and a later `synchroniseData` finds little left to wait for. A hint only: it makes
    /// nothing durable (no metadata, no disk cache flush), so a failure is ignored and only a flush is a promise.
    public static func startWriteback(_ descriptor: FileDescriptor) {
        _ = saatkond_start_writeback(descriptor.rawValue)
    }

    /// The open option for direct I/O (`O_DIRECT`): writes go from the caller's memory to the disk without a copy
    /// into the page cache. Their memory, file offsets and lengths must be aligned to the disk's logical block size
    /// (4 KiB always is). Empty where the platform has none.
    public static var directIO: FileDescriptor.OpenOptions {
        FileDescriptor.OpenOptions(rawValue: saatkond_direct_io_flag())
    }

    /// Writes `parts` one after another at the file's position with as few `writev` calls as the kernel allows,
    /// so a file made of many pieces (a header, blocks and their checksums) needs no copy into one buffer first.
    public static func writeAll(_ descriptor: FileDescriptor, gathering parts: [UnsafeRawBufferPointer]) throws(Errno) {
        var vectors = parts.filter { !$0.isEmpty }.map {
            iovec(iov_base: UnsafeMutableRawPointer(mutating: $0.baseAddress), iov_len: $0.count)
        }
        // Linux accepts at most 1024 vectors per call (UIO_MAXIOV).
        let maximumVectors = 1024
        var first = 0
        while first < vectors.count {
            var limited: Int?
            switch InjectedFaults.fault(.write, on: descriptor) {
            case .error(let error)?: throw error
            case .shortWrite(let limit)?: limited = max(1, limit)
            case nil: break
            }
            let written: Int
            if let limited {
                // What a short writev does: part of the first vector, the rest left for the next call.
                written = write(descriptor.rawValue, vectors[first].iov_base, min(vectors[first].iov_len, limited))
            } else {
                let count = Int32(min(vectors.count - first, maximumVectors))
                written = vectors.withUnsafeBufferPointer {
                    writev(descriptor.rawValue, $0.baseAddress! + first, count)
                }
            }
            if written < 0 {
                let error = Errno(rawValue: errno)
                if error == .interrupted { continue }
                throw error
            }
            // A regular file accepts something or fails; zero bytes would loop forever.
            if written == 0 { throw Errno.ioError }
            var remaining = written
            while remaining > 0 {
                if remaining >= vectors[first].iov_len {
                    remaining -= vectors[first].iov_len
                    first += 1
                } else {
                    vectors[first].iov_base += remaining
                    vectors[first].iov_len -= remaining
                    remaining = 0
                }
            }
        }
    }

    /// Flushes a directory, which makes a file created in it survive a power cut.
    public static func synchroniseDirectory(_ path: FilePath) throws(Errno) {
        let descriptor = try open(path, .readOnly, options: [.directory, .closeOnExec])
        defer { release(descriptor) }
        try injectedFlushFault(descriptor)
        try retryingInterrupts { fsync(descriptor.rawValue) }
    }

    /// Closes a descriptor whose writes are not yet known to have landed, and reports what `close` says (some
    /// filesystems report a write's failure only there).
    public static func close(_ descriptor: FileDescriptor) throws(Errno) {
        do {
            try descriptor.close()
        } catch {
            throw error as? Errno ?? .ioError
        }
    }

    /// Closes a descriptor whose outcome is decided already: it only read, its writes were flushed (a flush reports
    /// what a close could), or they are being abandoned after a failure that is reported instead. Linux frees the
    /// descriptor even when `close` fails, and a retry could close another thread's new descriptor; so there is
    /// nothing to do with its error, and it is dropped here, in one place, rather than by `try?` at every caller.
    public static func release(_ descriptor: FileDescriptor) {
        _ = try? descriptor.close()
    }

    /// Takes an exclusive advisory lock without waiting; returns false when someone else holds it.
    public static func lockExclusivelyWithoutWaiting(_ descriptor: FileDescriptor) throws(Errno) -> Bool {
        do {
            try retryingInterrupts { flock(descriptor.rawValue, LOCK_EX | LOCK_NB) }
            return true
        } catch {
            if error == .wouldBlock { return false }
            throw error
        }
    }

    /// The file's size in bytes.
    public static func size(of descriptor: FileDescriptor) throws(Errno) -> UInt64 {
        var status = stat()
        try retryingInterrupts { fstat(descriptor.rawValue, &status) }
        return UInt64(status.st_size)
    }

    /// The size in bytes of the file at `path`.
    public static func size(at path: FilePath) throws(Errno) -> UInt64 {
        var status = stat()
        try retryingInterrupts { stat(path.string, &status) }
        return UInt64(status.st_size)
    }

    /// Creates the directory `path` if it does not exist, making it durable in its parent; its parent must exist.
    public static func createDirectory(
        _ path: FilePath, permissions: FilePermissions = [.ownerReadWriteExecute]
    ) throws(Errno) {
        if mkdir(path.string, permissions.rawValue) != 0 {
            if errno == EEXIST { return }
            throw Errno(rawValue: errno)
        }
        var parent = path
        parent.removeLastComponent()
        try synchroniseDirectory(parent.isEmpty ? "." : parent)
    }

    /// Creates `path` and any missing parents, making each new entry durable in its parent.
    public static func createDirectories(
        _ path: FilePath, permissions: FilePermissions = [.ownerReadWriteExecute]
    ) throws(Errno) {
        var missing: [FilePath] = []
        var current = path
        while !current.components.isEmpty, access(current.string, F_OK) != 0 {
            missing.append(current)
            current.removeLastComponent()
        }
        for directory in missing.reversed() {
            let result = mkdir(directory.string, permissions.rawValue)
            if result != 0 && errno != EEXIST { throw Errno(rawValue: errno) }
            var parent = directory
            parent.removeLastComponent()
            try synchroniseDirectory(parent.isEmpty ? "." : parent)
        }
    }

    /// Flushes a file's data and all its metadata.
    public static func synchronise(_ descriptor: FileDescriptor) throws(Errno) {
        try injectedFlushFault(descriptor)
        try retryingInterrupts { fsync(descriptor.rawValue) }
    }

    /// Renames `source` to `target`, replacing it atomically.
    public static func rename(_ source: FilePath, to target: FilePath) throws(Errno) {
        try retryingInterrupts { Glibc.rename(source.string, target.string) }
    }

    /// Creates a file without a name in `directory`, open for writing: it vanishes with its last descriptor unless
    /// ``link(_:at:)`` names it, so a crash while it is being prepared leaves nothing behind. Throws
    /// `notSupported` where the filesystem has no unnamed files.
    public static func createUnnamed(
        in directory: FilePath, permissions: FilePermissions = [.ownerReadWrite]
    ) throws(Errno) -> FileDescriptor {
        let descriptor = saatkond_open_unnamed(directory.string, UInt32(permissions.rawValue))
        guard descriptor >= 0 else {
            throw errno == EISDIR || errno == EOPNOTSUPP ? .notSupported : Errno(rawValue: errno)
        }
        return FileDescriptor(rawValue: descriptor)
    }

    /// Names the unnamed file `descriptor` as `path`; throws `fileExists` if `path` exists.
    public static func link(_ descriptor: FileDescriptor, at path: FilePath) throws(Errno) {
        try retryingInterrupts { saatkond_link_unnamed(descriptor.rawValue, path.string) }
    }

    /// Removes a file; a file that is already gone is not an error.
    public static func remove(_ path: FilePath) throws(Errno) {
        if unlink(path.string) != 0 && errno != ENOENT { throw Errno(rawValue: errno) }
    }

    /// Whether something exists at `path`.
    public static func exists(_ path: FilePath) -> Bool {
        access(path.string, F_OK) == 0
    }

    /// The names in a directory, without `.` and `..`; an absent directory has none.
    public static func entries(of directory: FilePath) throws(Errno) -> [String] {
        var names: [String] = []
        try forEachEntry(of: directory) { names.append($0) }
        return names
    }

    /// Calls `body` with each name in a directory, without `.` and `..`, in the directory's own order, holding none
    /// of them: a directory of millions of entries is walked in constant memory. An absent directory has none.
    public static func forEachEntry(of directory: FilePath, _ body: (String) -> Void) throws(Errno) {
        guard let stream = opendir(directory.string) else {
            if errno == ENOENT { return }
            throw Errno(rawValue: errno)
        }
        defer { closedir(stream) }
        while let entry = readdir(stream) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { body(name) }
        }
    }

    /// When the file or directory at `path` was last modified, in milliseconds since 1970 (UTC).
    public static func modificationMilliseconds(at path: FilePath) throws(Errno) -> UInt64 {
        var status = stat()
        try retryingInterrupts { stat(path.string, &status) }
        let time = status.st_mtim
        guard time.tv_sec >= 0 else { return 0 }
        return UInt64(time.tv_sec) * 1000 + UInt64(time.tv_nsec / 1_000_000)
    }

    /// Writes `bytes` to `path` so that, after a crash, `path` holds either its old content or all of `bytes`:
    /// a temporary file is written and flushed, renamed over `path`, and the directory flushed.
    public static func writeAtomically(
        _ bytes: UnsafeRawBufferPointer, to path: FilePath, permissions: FilePermissions = [.ownerReadWrite]
    ) throws(Errno) {
        let temporary = FilePath(path.string + ".new")
        let descriptor = try open(
            temporary, .writeOnly, options: [.create, .truncate, .closeOnExec], permissions: permissions)
        do {
            try writeAll(descriptor, bytes, at: 0)
            try synchroniseData(descriptor)
            try descriptor.close()
        } catch {
            FileSystemCalls.release(descriptor)
            // The write's own error is the one to report; a temporary file left behind is replaced by the next try.
            try? remove(temporary)
            throw error as? Errno ?? .ioError
        }
        try rename(temporary, to: path)
        var directory = path
        directory.removeLastComponent()
        try synchroniseDirectory(directory.isEmpty ? "." : directory)
    }

    /// Reads the file at `path` into `buffer` from its start, until the file ends or the buffer is full; returns the
    /// bytes read. A caller expecting n bytes passes n + 1 of room, so that a longer file shows.
    public static func read(_ path: FilePath, into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        let descriptor = try openForReading(path)
        defer { FileSystemCalls.release(descriptor) }
        return try read(descriptor, into: buffer)
    }

    /// Reads a whole file.
    public static func readAll(_ path: FilePath) throws(Errno) -> [UInt8] {
        let descriptor = try openForReading(path)
        defer { FileSystemCalls.release(descriptor) }
        let size = Int(try size(of: descriptor))
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 1)
        defer { buffer.deallocate() }
        let done = try read(descriptor, into: buffer)
        return Array(buffer[..<done])
    }

    private static func openForReading(_ path: FilePath) throws(Errno) -> FileDescriptor {
        try open(path, .readOnly, options: [.closeOnExec])
    }

    /// Reads from a freshly opened descriptor until the file ends or `buffer` is full; sequential reads, so a pipe
    /// (`<(command)`) reads as well as a file.
    private static func read(
        _ descriptor: FileDescriptor, into buffer: UnsafeMutableRawBufferPointer
    ) throws(Errno)
        -> Int
    {
        if case .error(let error)? = InjectedFaults.fault(.read, on: descriptor) { throw error }
        var done = 0
        while done < buffer.count {
            let count: Int
            do {
                count = try descriptor.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...]))
            } catch {
                throw error as? Errno ?? .ioError
            }
            if count == 0 { break }
            done += count
        }
        return done
    }
}
