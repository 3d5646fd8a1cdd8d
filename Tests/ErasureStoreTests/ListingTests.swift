import DurableFiles
import Foundation
import HashChain
import StoreFormat
import StreamStore
import SystemPackage
import TestSupport
import Testing

@testable import ErasureStore

/// Listing a page at a time: every stream once, in order, with its durable length and head, whatever the members do.
@Suite("Erasure-coded store listing")
struct ListingTests {
    /// Writes `streams` with a few bytes each (the index of the stream, `index + 1` times) and returns the
    /// summaries a listing must give, by name.
    static func fill(_ store: ErasureCodedStore, _ streams: [String]) throws -> [String: (UInt64, ChainHead)] {
        var expected: [String: (UInt64, ChainHead)] = [:]
        for (index, stream) in streams.enumerated() {
            let bytes = [UInt8](repeating: UInt8(truncatingIfNeeded: index), count: index + 1)
            let appender = try store.openAppender(for: try StreamName(stream))
            try appender.append(bytes)
            _ = try appender.makeDurable()
            appender.close()
            expected[stream] = (UInt64(bytes.count), StreamHashChain.head(of: bytes))
        }
        return expected
    }

    /// Every page, as a client would ask for them, and the number of pages.
    static func listAll(
        _ store: ErasureCodedStore, limit: Int, where include: (StreamName) -> Bool = { _ in true }
    ) throws -> (summaries: [StreamSummary], pages: Int) {
        var all: [StreamSummary] = []
        var pages = 0
        var after: StreamName?
        while true {
            let page = try store.summaries(after: after, limit: limit, where: include)
            pages += 1
            #expect(page.count <= limit)
            all += page
            guard page.count == limit, let last = page.last else { return (all, pages) }
            after = last.name
        }
    }

    @Test("pages of a small limit give every stream exactly once, in name order, with its length and head")
    func pagesCoverEveryStreamOnce() throws {
        let fixture = try ArrayFixture(dataShards: 2, parityShards: 1, memberCount: 4, shardBytes: 512 << 10)
        defer { fixture.remove() }
        let store = try fixture.open()
        defer { store.shutdown() }
        // Written out of order, so that neither directory order nor creation order is name order.
        let names = (0..<23).map { "ee.s\(($0 * 7) % 23)" } + ["ee.a", "ee.A", "x.1"]
        let before = UInt64(Date().timeIntervalSince1970 * 1000) - 2000
        let expected = try Self.fill(store, names)
        let (listed, pages) = try Self.listAll(store, limit: 4)
        #expect(listed.map(\.name.rawValue) == names.sorted())
        #expect(pages == names.count / 4 + 1)
        for summary in listed {
            let (length, head) = try #require(expected[summary.name.rawValue])
            #expect(summary.isReadable)
            #expect(summary.length == length && summary.head == head, "\(summary.name)")
            #expect(summary.lastAppendMilliseconds >= before, "\(summary.name)")
            #expect(summary.lastAppendMilliseconds <= UInt64(Date().timeIntervalSince1970 * 1000) + 2000)
        }
        let filtered = try Self.listAll(store, limit: 3) { $0.rawValue.hasPrefix("ee.s1") }.summaries
        #expect(filtered.map(\.name.rawValue) == names.filter { $0.hasPrefix("ee.s1") }.sorted())
        #expect(try store.summaries(after: try StreamName("x.1"), limit: 4) { _ in true }.isEmpty)
    }

    @Test("a member whose streams directory cannot be listed fails nothing and hides no stream")
    func unlistableMember() throws {
        let fixture = try ArrayFixture(dataShards: 2, parityShards: 1, memberCount: 4, shardBytes: 512 << 10)
        defer { fixture.remove() }
        let names = ["ee.pop.wal", "ee.pop.base", "ee.land.x", "ee.z"]
        let expected = try Self.fill(try fixture.open(), names)
        // Its streams directory replaced by a file: listing it fails (ENOTDIR), as it would on a failing disk, and
        // even as root, whom permissions would not stop.
        let streams = MemberLayout(root: fixture.members[1]).streams.string
        try FileManager.default.moveItem(atPath: streams, toPath: streams + ".aside")
        #expect(FileManager.default.createFile(atPath: streams, contents: Data([1])))
        #expect(throws: Errno.self) { try FileSystemCalls.entries(of: FilePath(streams)) }

        let store = try fixture.open()
        defer { store.shutdown() }
        let listed = try Self.listAll(store, limit: 2).summaries
        #expect(listed.map(\.name.rawValue) == names.sorted())
        for summary in listed {
            let (length, head) = try #require(expected[summary.name.rawValue])
            #expect(summary.isReadable && summary.length == length && summary.head == head, "\(summary.name)")
        }
        #expect(FileManager.default.fileExists(atPath: streams + ".aside"), "the listing touched the member")
    }

    @Test("a stream that cannot be opened is listed as unreadable; the others are listed as usual")
    func unreadableStream() throws {
        let fixture = try ArrayFixture(dataShards: 2, parityShards: 1, memberCount: 4, shardBytes: 512 << 10)
        defer { fixture.remove() }
        let expected = try Self.fill(try fixture.open(), ["ee.a", "ee.c"])
        // ee.b: two sealed segments and a journaled tail, then every shard of it lost on every member, so its tail's
        // journal follows segments no member holds.
        do {
            let store = try fixture.open()
            defer { store.shutdown() }
            let appender = try store.openAppender(for: try StreamName("ee.b"))
            try appender.append([UInt8](repeating: 0x42, count: fixture.geometry.segmentBytes * 5 / 2))
            _ = try appender.makeDurable()
            appender.close()
        }
        var lost = 0
        for member in fixture.members {
            let directory = MemberLayout(root: member).streamDirectory("ee.b").string
            for file in try FileManager.default.contentsOfDirectory(atPath: directory) where file.hasSuffix(".shard") {
                try FileManager.default.removeItem(atPath: "\(directory)/\(file)")
                lost += 1
            }
        }
        #expect(lost > 0)
        let store = try fixture.open()
        defer { store.shutdown() }
        #expect(throws: StreamStorageError.self) { try store.openReader(for: try StreamName("ee.b")) }
        let listed = try Self.listAll(store, limit: 10).summaries
        #expect(listed.map(\.name.rawValue) == ["ee.a", "ee.b", "ee.c"])
        #expect(listed.map(\.isReadable) == [true, false, true])
        #expect(listed[1].length == 0 && listed[1].head == .empty)
        #expect(listed[2].length == expected["ee.c"]!.0 && listed[2].head == expected["ee.c"]!.1)
    }

    @Test("the page keeps only the smallest names after the cursor, each once")
    func smallestNames() throws {
        var page = SmallestNames(limit: 3, after: "b")
        for name in ["z", "a", "c", "b", "y", "c", "d", "ba", "e"] {
            if page.wouldKeep(name) { page.insert(try StreamName(name)) }
        }
        #expect(page.names.map(\.rawValue) == ["ba", "c", "d"])
    }
}
