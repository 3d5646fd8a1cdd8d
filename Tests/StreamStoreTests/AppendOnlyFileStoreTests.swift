import FileStore
import Foundation
import StreamStore
import SystemPackage
import Testing

@Suite("Append-only file store")
struct AppendOnlyFileStoreTests {
    let directory = FilePath(NSTemporaryDirectory()).appending("saatkond-store-\(UUID().uuidString)")

    static let name = try! StreamName("ee.population.wal")

    private func withStore(_ body: (AppendOnlyFileStore) throws -> Void) throws {
        defer { try? FileManager.default.removeItem(atPath: directory.string) }
        try body(AppendOnlyFileStore(directory: directory.appending("streams/nested")))
    }

    private func read(_ reader: any StreamReader, at offset: UInt64, count: Int) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        let read = try buffer.withUnsafeMutableBytes { try reader.read(at: offset, into: $0) }
        return Array(buffer[..<read])
    }

    @Test("appended bytes read back after they are made durable, across reopening")
    func roundTrip() throws {
        try withStore { store in
            let appender = try store.openAppender(for: Self.name)
            #expect(appender.durableLength == 0)
            try ([1, 2, 3] as [UInt8]).withUnsafeBytes { try appender.append($0) }
            #expect(appender.appendedLength == 3)
            #expect(appender.durableLength == 0)
            #expect(try appender.makeDurable() == 3)
            try ([4, 5] as [UInt8]).withUnsafeBytes { try appender.append($0) }
            #expect(try appender.makeDurable() == 5)
            appender.close()

            let reopened = try store.openAppender(for: Self.name)
            #expect(reopened.durableLength == 5)
            reopened.close()

            let reader = try store.openReader(for: Self.name)
            defer { reader.close() }
            #expect(reader.length == 5)
            #expect(try read(reader, at: 0, count: 10) == [1, 2, 3, 4, 5])
            #expect(try read(reader, at: 3, count: 1) == [4])
            #expect(try read(reader, at: 5, count: 4) == [])
            #expect(throws: StreamStorageError.self) { try read(reader, at: 6, count: 1) }
        }
    }

    @Test("a second appender of the same stream is refused while the first holds it")
    func exclusive() throws {
        try withStore { store in
            let first = try store.openAppender(for: Self.name)
            do {
                _ = try store.openAppender(for: Self.name)
                Issue.record("a second appender was allowed")
            } catch let error as StreamStorageError {
                #expect(error.kind == .streamBusy)
            }
            first.close()
            try store.openAppender(for: Self.name).close()
        }
    }

    @Test("reading a stream that does not exist is a clear error and creates nothing")
    func unknown() throws {
        try withStore { store in
            do {
                _ = try store.openReader(for: Self.name)
                Issue.record("reading a missing stream succeeded")
            } catch let error as StreamStorageError {
                #expect(error.kind == .unknownStream)
                #expect(error.description.contains("ee.population.wal"))
            }
            #expect(
                !FileManager.default.fileExists(atPath: store.directory.appending("ee.population.wal.stream").string))
        }
    }

    @Test("bytes written but never made durable by a crashed appender count once the next appender opens")
    func unflushedBytesBecomeDurableOnOpen() throws {
        try withStore { store in
            let appender = try store.openAppender(for: Self.name)
            try ([9, 9] as [UInt8]).withUnsafeBytes { try appender.append($0) }
            appender.close()  // no makeDurable: as if the process died after write()
            let next = try store.openAppender(for: Self.name)
            defer { next.close() }
            #expect(next.durableLength == 2)
        }
    }
}
