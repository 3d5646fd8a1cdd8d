import SystemPackage

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The few calls swift-system does not offer (fsync, fdatasync, flock, fstat), funnelled through one place
/// that retries EINTR and turns a failure into an `Errno`, so no raw `Int32` result escapes.
enum FileSystemCalls {
    static func retryingInterrupts(_ call: () -> Int32) throws(Errno) {
        while true {
            if call() == 0 { return }
            let error = Errno(rawValue: errno)
            if error != .interrupted { throw error }
        }
    }

    /// Flushes the file's data and the metadata needed to read it back (its size), not its times.
    static func synchroniseData(_ descriptor: FileDescriptor) throws(Errno) {
        try retryingInterrupts { fdatasync(descriptor.rawValue) }
    }

    /// Flushes a directory, which makes a file created in it survive a power cut.
    static func synchroniseDirectory(_ path: FilePath) throws(Errno) {
        let descriptor: FileDescriptor
        do {
            descriptor = try FileDescriptor.open(path, .readOnly, options: [.directory, .closeOnExec])
        } catch let error as Errno {
            throw error
        } catch {
            throw Errno.ioError
        }
        defer { try? descriptor.close() }
        try retryingInterrupts { fsync(descriptor.rawValue) }
    }

    /// Takes an exclusive advisory lock without waiting; returns false when someone else holds it.
    static func lockExclusivelyWithoutWaiting(_ descriptor: FileDescriptor) throws(Errno) -> Bool {
        do {
            try retryingInterrupts { flock(descriptor.rawValue, LOCK_EX | LOCK_NB) }
            return true
        } catch {
            if error == .wouldBlock { return false }
            throw error
        }
    }

    /// The file's size in bytes.
    static func size(of descriptor: FileDescriptor) throws(Errno) -> UInt64 {
        var status = stat()
        try retryingInterrupts { fstat(descriptor.rawValue, &status) }
        return UInt64(status.st_size)
    }

    /// Creates `path` and any missing parents, making each new entry durable in its parent.
    static func createDirectories(_ path: FilePath) throws(Errno) {
        var missing: [FilePath] = []
        var current = path
        while !current.components.isEmpty, access(current.string, F_OK) != 0 {
            missing.append(current)
            current.removeLastComponent()
        }
        for directory in missing.reversed() {
            let result = mkdir(directory.string, 0o700)
            if result != 0 && errno != EEXIST { throw Errno(rawValue: errno) }
            var parent = directory
            parent.removeLastComponent()
            try synchroniseDirectory(parent.isEmpty ? "." : parent)
        }
    }
}
