import StreamStore
import SystemPackage

/// Appends to one stream file; holds its exclusive lock until closed.
final class FileStreamAppender: StreamAppender {
    let name: StreamName
    private let path: FilePath
    private var descriptor: FileDescriptor?
    private(set) var durableLength: UInt64
    private(set) var appendedLength: UInt64

    init(name: StreamName, path: FilePath, descriptor: FileDescriptor, length: UInt64) {
        self.name = name
        self.path = path
        self.descriptor = descriptor
        self.durableLength = length
        self.appendedLength = length
    }

    deinit {
        close()
    }

    func append(_ bytes: UnsafeRawBufferPointer) throws(StreamStorageError) {
        let descriptor = try openDescriptor()
        do {
            let written = try descriptor.writeAll(toAbsoluteOffset: Int64(appendedLength), bytes)
            appendedLength += UInt64(written)
        } catch {
            throw .io("writing", path: path.string, error: error)
        }
    }

    func makeDurable() throws(StreamStorageError) -> UInt64 {
        let descriptor = try openDescriptor()
        guard appendedLength != durableLength else { return durableLength }
        do {
            try FileSystemCalls.synchroniseData(descriptor)
        } catch {
            throw .io("flushing", path: path.string, error: error)
        }
        durableLength = appendedLength
        return durableLength
    }

    func close() {
        try? descriptor?.close()
        descriptor = nil
    }

    private func openDescriptor() throws(StreamStorageError) -> FileDescriptor {
        guard let descriptor else {
            throw StreamStorageError(kind: .io, message: "the appender of stream \(name) is already closed")
        }
        return descriptor
    }
}

/// Reads one stream file at explicit offsets.
final class FileStreamReader: StreamReader {
    let name: StreamName
    let length: UInt64
    private let path: FilePath
    private var descriptor: FileDescriptor?

    init(name: StreamName, path: FilePath, descriptor: FileDescriptor, length: UInt64) {
        self.name = name
        self.path = path
        self.descriptor = descriptor
        self.length = length
    }

    deinit {
        close()
    }

    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(StreamStorageError) -> Int {
        guard offset <= length else { throw .outOfRange(name, offset: offset, length: length) }
        guard let descriptor else {
            throw StreamStorageError(kind: .io, message: "the reader of stream \(name) is already closed")
        }
        let wanted = Int(min(UInt64(buffer.count), length - offset))
        var done = 0
        while done < wanted {
            let target = UnsafeMutableRawBufferPointer(rebasing: buffer[done..<wanted])
            let count: Int
            do {
                count = try descriptor.read(fromAbsoluteOffset: Int64(offset) + Int64(done), into: target)
            } catch {
                throw .io("reading", path: path.string, error: error)
            }
            if count == 0 {
                throw StreamStorageError(
                    kind: .corrupt,
                    message: "stream file \(path) ended at \(offset + UInt64(done)), before its length \(length)")
            }
            done += count
        }
        return done
    }

    func close() {
        try? descriptor?.close()
        descriptor = nil
    }
}
