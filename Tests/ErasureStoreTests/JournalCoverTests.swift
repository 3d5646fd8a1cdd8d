import DurableFiles
import Foundation
import HashChain
import StoreFormat
import StreamStore
import SystemPackage
import Testing

@testable import ErasureStore

/// A segment filled by small appends is covered by its journal: the appends that cross the boundary do not wait for
/// the segment's write, which happens in the background, and recovery folds a journal that covers a whole segment.
@Suite("JournalCoverTests: segments covered by their journal")
struct JournalCoverTests {
    static let stream = try! StreamName("ee.land.register")

    @Test("small appends across boundaries: the shards are written in the background and the journals removed")
    func smallAppendsAcrossBoundaries() throws {
        let fixture = try ArrayFixture()
        defer { fixture.remove() }
        let segment = fixture.geometry.segmentBytes
        let data = PatternGenerator(seed: 47).bytesOnce(3 * segment + 12_345)
        let appender = try fixture.open().openAppender(for: Self.stream)
        var offset = 0
        while offset < data.count {
            let end = min(data.count, offset + 8192 + offset % 5000)
            try appender.append(Array(data[offset..<end]))
            #expect(try appender.makeDurable() == UInt64(end))
            offset = end
        }
        #expect(appender.durableHead == StreamHashChain.head(of: data))
        appender.close()

        // Only the open segment's journal is left, and the three full segments are in shards.
        for segmentIndex in 0..<3 {
            #expect(fixture.journalFiles(Self.stream, segment: UInt64(segmentIndex)).isEmpty, "segment \(segmentIndex)")
        }
        #expect(fixture.journalFiles(Self.stream, segment: 3).count == fixture.geometry.parityShards + 1)
        let reopened = try fixture.open().openAppender(for: Self.stream)
        #expect(reopened.durableLength == UInt64(data.count))
        #expect(reopened.durableHead == StreamHashChain.head(of: data))
        reopened.close()
        #expect(try fixture.open().openReader(for: Self.stream).readAll() == data)
    }

    /// The state a writer leaves when it dies after covering a segment and journaling into the next, before the
    /// covered segment's shards were written whole: a torn shard, a full journal, and the next journal.
    @Test(
        "a journal covering its whole segment, with or without the next one, is folded into the segment on open",
        arguments: [false, true])
    func fullJournalIsFolded(withNextJournal: Bool) throws {
        let fixture = try ArrayFixture()
        defer { fixture.remove() }
        let store = try fixture.open()
        let segment = fixture.geometry.segmentBytes
        let next = withNextJournal ? 70_000 : 0
        let data = PatternGenerator(seed: 53).bytesOnce(segment + next)
        try fixture.createStreamDirectories(Self.stream)
        var full = try JournalWriter.create(store: store, stream: Self.stream.rawValue, segment: 0)
        for start in stride(from: 0, to: segment, by: 200_000) {
            let end = min(segment, start + 200_000)
            try data[start..<end].withUnsafeBytes { try full.append($0, at: UInt64(start)) }
        }
        full.close()
        if withNextJournal {
            var journal = try JournalWriter.create(store: store, stream: Self.stream.rawValue, segment: 1)
            try data[segment...].withUnsafeBytes { try journal.append($0, at: UInt64(segment)) }
            journal.close()
        }
        // A shard of segment 0 torn mid-write.
        let torn = store.placement.member(ofShard: 0, segment: 0, stream: Self.stream.rawValue)
        let tornPath = MemberLayout(root: fixture.members[torn]).shard(Self.stream.rawValue, segment: 0)
        #expect(FileManager.default.createFile(atPath: tornPath.string, contents: Data(repeating: 0x5A, count: 5000)))

        // A reader sees every byte before anything is folded: it opens nothing for writing.
        let early = try fixture.open().openReader(for: Self.stream)
        #expect(early.length == UInt64(data.count))
        #expect(early.head == StreamHashChain.head(of: data))
        #expect(try early.readAll() == data)
        early.close()

        let appender = try fixture.open().openAppender(for: Self.stream)
        #expect(appender.durableLength == UInt64(data.count))
        #expect(appender.durableHead == StreamHashChain.head(of: data))
        appender.close()
        #expect(fixture.journalFiles(Self.stream, segment: 0).isEmpty, "the folded journal is gone")
        let reader = try fixture.open().openReader(for: Self.stream)
        #expect(try reader.readAll() == data)
        reader.close()
        // The folded segment is whole: it reads back even with m members lost.
        for member in 0..<fixture.geometry.parityShards { try fixture.wipe(member) }
        #expect(try fixture.open().openReader(for: Self.stream).read(at: 0, count: segment) == Array(data[..<segment]))
    }
}
