import StreamStore
import SystemPackage

/// The development appliance's store: one append-only file per stream in one directory.
///
/// It keeps the promise of ``StreamStorage`` on a single disk: appended bytes are written with `pwrite` and made
/// durable with `fdatasync`, and the directory is flushed when a stream file is created. It does not survive the
/// loss of its disk; the erasure-coded engine does. A stream's file is `<directory>/<name>.stream`, which is safe
/// because ``StreamName`` admits no path separators and no leading dot.
public struct AppendOnlyFileStore: StreamStorage {
    /// The directory that holds the stream files.
    public let directory: FilePath

    /// Opens (creating if needed) the store in `directory`.
    public init(directory: FilePath) throws(StreamStorageError) {
        do {
            try FileSystemCalls.createDirectories(directory)
        } catch {
            throw .io("creating the stream directory", path: directory.string, error: error)
        }
        self.directory = directory
    }

    func path(of name: StreamName) -> FilePath {
        directory.appending("\(name.rawValue).stream")
    }

    /// Opens `name` for appending, creating an empty stream if there is none.
    public func openAppender(for name: StreamName) throws(StreamStorageError) -> any StreamAppender {
        let path = path(of: name)
        let descriptor = try openOrCreate(path)
        do {
            guard try FileSystemCalls.lockExclusivelyWithoutWaiting(descriptor) else {
                try? descriptor.close()
                throw StreamStorageError.streamBusy(name)
            }
            // Bytes a previous appender wrote but never flushed may sit in the page cache; flushing them now
            // makes the length reported to the sender a durable one.
            try FileSystemCalls.synchroniseData(descriptor)
            let length = try FileSystemCalls.size(of: descriptor)
            return FileStreamAppender(name: name, path: path, descriptor: descriptor, length: length)
        } catch let error as StreamStorageError {
            throw error
        } catch {
            try? descriptor.close()
            throw .io("opening for append", path: path.string, error: error)
        }
    }

    /// Opens an existing stream for reading.
    public func openReader(for name: StreamName) throws(StreamStorageError) -> any StreamReader {
        let path = path(of: name)
        do {
            let descriptor = try FileDescriptor.open(path, .readOnly, options: [.closeOnExec])
            do {
                let length = try FileSystemCalls.size(of: descriptor)
                return FileStreamReader(name: name, path: path, descriptor: descriptor, length: length)
            } catch {
                try? descriptor.close()
                throw error
            }
        } catch Errno.noSuchFileOrDirectory {
            throw .unknownStream(name)
        } catch {
            throw .io("opening for reading", path: path.string, error: error)
        }
    }

    private func openOrCreate(_ path: FilePath) throws(StreamStorageError) -> FileDescriptor {
        do {
            return try FileDescriptor.open(path, .readWrite, options: [.closeOnExec])
        } catch Errno.noSuchFileOrDirectory {
            // Fall through and create it below.
        } catch {
            throw .io("opening", path: path.string, error: error)
        }
        do {
            let descriptor = try FileDescriptor.open(
                path, .readWrite, options: [.create, .exclusiveCreate, .closeOnExec],
                permissions: [.ownerReadWrite])
            try FileSystemCalls.synchroniseDirectory(directory)
            return descriptor
        } catch Errno.fileExists {
            // Another appender created it between our two opens; it is an ordinary existing stream now.
            do {
                return try FileDescriptor.open(path, .readWrite, options: [.closeOnExec])
            } catch {
                throw .io("opening", path: path.string, error: error)
            }
        } catch {
            throw .io("creating", path: path.string, error: error)
        }
    }
}
