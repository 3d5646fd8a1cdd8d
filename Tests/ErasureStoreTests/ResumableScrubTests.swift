import ErasureStore
import Foundation
import StreamStore
import SystemPackage
import Testing

/// A scrub stopped after a stream resumes after it, and still finds and repairs what lies beyond.
struct ResumableScrubTests {
    @Test func aScrubStoppedAfterAStreamResumesAfterIt() throws {
        let array = try ArrayFixture()
        defer { array.remove() }
        let store = try array.open()
        let names = try ["ee.scrub.a", "ee.scrub.b", "ee.scrub.c"].map(StreamName.init)
        var generator = PatternGenerator(seed: 7)
        for name in names {
            let appender = try store.openAppender(for: name)
            try appender.append(
                (0..<(3 * array.geometry.segmentBytes)).map { _ in UInt8.random(in: 0...255, using: &generator) })
            _ = try appender.makeDurable()
            appender.close()
        }
        // One shard of the last stream damaged on disk.
        let directory = array.members[0].appending("streams").appending("ee.scrub.c")
        let shard = try #require(
            try FileManager.default.contentsOfDirectory(atPath: directory.string).sorted().first {
                $0.hasSuffix(".shard")
            })
        let handle = try #require(FileHandle(forUpdatingAtPath: directory.appending(shard).string))
        try handle.seek(toOffset: 100_000)
        try handle.write(contentsOf: Data(repeating: 0x5A, count: 64))
        try handle.close()

        var finished: [String] = []
        let first = store.scrub(resumingAfter: nil) { stream, _ in
            finished.append(stream.rawValue)
            return false
        }
        #expect(finished == ["ee.scrub.a"])
        #expect(first.shardsRepaired == 0)

        finished = []
        let rest = store.scrub(resumingAfter: names[0], bytesPerSecond: 1 << 30) { stream, _ in
            finished.append(stream.rawValue)
            return true
        }
        #expect(finished == ["ee.scrub.b", "ee.scrub.c"])
        #expect(rest.shardsRepaired == 1, "\(rest)")
        #expect(rest.shardsChecked == 2 * first.shardsChecked)
        #expect(store.scrub().shardsDamaged == 0)
    }
}
