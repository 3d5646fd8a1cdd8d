import DurableFiles
import Foundation
import HashChain
import StoreFormat
import StreamStore
import SystemPackage
import Testing

@testable import ErasureStore

/// Journals written over spare files (``JournalPool``): what a spare held before never counts as records, unused
/// prepared journals do not stop a stream from opening, and scrub finds nothing to repair in reused copies.
@Suite("JournalPoolTests: reused journal files")
struct JournalPoolTests {
    static let stream = try! StreamName("ee.population.register")

    @Test("a new array has spares on every member; a journal takes one, is written in place, and goes back")
    func sparesAreTakenAndReturned() throws {
        let fixture = try ArrayFixture()
        defer { fixture.remove() }
        let store = try fixture.open()
        #expect(fixture.members.allSatisfy { spares($0).count == JournalPool.initialSparesPerMember })
        let segment = fixture.geometry.segmentBytes
        let data = PatternGenerator(seed: 61).bytesOnce(segment + 100_000)
        let appender = try store.openAppender(for: Self.stream)
        try appender.append(Array(data[..<8192]))
        _ = try appender.makeDurable()
        // The open segment's journal is a spare: as long as one, and the records so far did not grow it.
        let copies = fixture.journalFiles(Self.stream, segment: 0)
        #expect(copies.count == fixture.geometry.parityShards + 1)
        for copy in copies {
            #expect(try FileSystemCalls.size(at: copy) == UInt64(store.journalPool.capacity), "\(copy)")
        }
        var offset = 8192
        while offset < data.count {
            let end = min(data.count, offset + 30_000)
            try appender.append(Array(data[offset..<end]))
            _ = try appender.makeDurable()
            offset = end
        }
        appender.close()
        // Segment 0's journal went back to the pools once its shards were durable; segment 1's is open.
        #expect(fixture.journalFiles(Self.stream, segment: 0).isEmpty)
        #expect(fixture.journalFiles(Self.stream, segment: 1).count == fixture.geometry.parityShards + 1)
        let spareCount = fixture.members.map { spares($0).count }.reduce(0, +)
        #expect(
            spareCount == fixture.members.count * JournalPool.initialSparesPerMember - fixture.geometry.parityShards - 1
        )
        #expect(try fixture.open().openReader(for: Self.stream).readAll() == data)
        #expect(try fixture.open().scrub().journalsRepaired == 0, "scrub rewrote reused journal copies")
    }

    /// Two streams write records of the same sizes at the same offsets; one's retired journals become the other's.
    /// Behind the new records lie the old stream's, at exactly the positions and offsets parsing expects next: only
    /// their checksums, seeded with each file's salt, tell them apart.
    @Test("records left in a reused spare by another stream are never read as records")
    func staleRecordsAreNotRecords() throws {
        let fixture = try ArrayFixture()
        defer { fixture.remove() }
        let store = try fixture.open()
        // A name of the same length: the same header length, so the old records sit exactly where new ones would.
        let other = try StreamName("ee.population.registry")
        for name in [other, Self.stream] { try fixture.createStreamDirectories(name) }
        let piece = [UInt8](repeating: 0xA5, count: 8192)
        // Every spare of the members holding segment 0's journal ends up holding the other stream's records.
        for _ in 0..<JournalPool.sparesPerMember {
            var journal = try JournalWriter.create(store: store, stream: other.rawValue, segment: 0)
            for index in 0..<20 {
                try piece.withUnsafeBytes { try journal.append($0, at: UInt64(index * 8192)) }
            }
            journal.close()
            store.retireJournals(stream: other.rawValue, segment: 0)
        }
        let data = PatternGenerator(seed: 67).bytesOnce(5 * 8192)
        var journal = try JournalWriter.create(store: store, stream: Self.stream.rawValue, segment: 0)
        for index in 0..<5 {
            try data[(index * 8192)..<((index + 1) * 8192)].withUnsafeBytes {
                try journal.append($0, at: UInt64(index * 8192))
            }
        }
        journal.close()
        let copies = fixture.journalFiles(Self.stream, segment: 0)
        #expect(copies.count == fixture.geometry.parityShards + 1)
        #expect(try copies.allSatisfy { try FileSystemCalls.size(at: $0) > UInt64(20 * 8192) }, "not reused spares")

        let appender = try fixture.open().openAppender(for: Self.stream)
        #expect(appender.durableLength == UInt64(data.count))
        #expect(appender.durableHead == StreamHashChain.head(of: data))
        appender.close()
    }

    @Test("a prepared journal that never got a record does not stop the stream from opening, and is retired")
    func unusedPreparedJournalIsPassedBy() throws {
        let fixture = try ArrayFixture()
        defer { fixture.remove() }
        let store = try fixture.open()
        try fixture.createStreamDirectories(Self.stream)
        let data = PatternGenerator(seed: 71).bytesOnce(300_000)
        var open = try JournalWriter.create(store: store, stream: Self.stream.rawValue, segment: 0)
        try data.withUnsafeBytes { try open.append($0, at: 0) }
        open.close()
        // What a writer killed after preparing the next segment's journal leaves.
        try JournalWriter.create(store: store, stream: Self.stream.rawValue, segment: 1).close()

        let appender = try fixture.open().openAppender(for: Self.stream)
        #expect(appender.durableLength == UInt64(data.count))
        #expect(fixture.journalFiles(Self.stream, segment: 1).isEmpty)
        appender.close()
    }

    @Test("a journal of format 1 is a clear error, not a tail silently dropped")
    func formatOneJournalIsRefused() throws {
        let fixture = try ArrayFixture()
        defer { fixture.remove() }
        let store = try fixture.open()
        try fixture.createStreamDirectories(Self.stream)
        var journal = try JournalWriter.create(store: store, stream: Self.stream.rawValue, segment: 0)
        try [UInt8](repeating: 1, count: 5000).withUnsafeBytes { try journal.append($0, at: 0) }
        journal.close()
        for path in fixture.journalFiles(Self.stream, segment: 0) {
            let file = try FileDescriptor.open(path, .writeOnly)
            defer { try? file.close() }
            _ = try Array("SKJRNL01".utf8).withUnsafeBytes { try file.writeAll(toAbsoluteOffset: 0, $0) }
        }
        #expect {
            try fixture.open().openAppender(for: Self.stream)
        } throws: { error in
            (error as? StreamStorageError).map { $0.kind == .corrupt && "\($0)".contains("format 1") } ?? false
        }
    }

    private func spares(_ member: FilePath) -> [String] {
        (try? FileSystemCalls.entries(of: MemberLayout(root: member).journalPool)) ?? []
    }
}

extension ArrayFixture {
    /// The stream's directory on every member, as an appender makes it: for tests that write journals directly.
    func createStreamDirectories(_ stream: StreamName) throws {
        for member in members { try MemberLayout(root: member).createStreamDirectory(stream.rawValue) }
    }

    /// The copies of a segment's journal present on the members.
    func journalFiles(_ stream: StreamName, segment: UInt64) -> [FilePath] {
        members.map { MemberLayout(root: $0).journal(stream.rawValue, segment: segment) }
            .filter { FileManager.default.fileExists(atPath: $0.string) }
    }
}
