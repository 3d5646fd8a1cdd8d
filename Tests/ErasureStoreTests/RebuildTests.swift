import CryptoPrimitives
import Foundation
import StoreFormat
import StreamStore
import SystemPackage
import Testing

@testable import ErasureStore

@Suite("Rebuild")
struct RebuildTests {
    static let stream = try! StreamName("ee.rebuild.wal")

    @Test("the batch hands over its files at its byte limit, at its file limit and at the end; flushed bytes count")
    func batch() {
        var batch = RebuildBatch<Int>(limitBytes: 300, limitFiles: 4)
        // Two shards of 100 bytes: below both limits, nothing is durable yet.
        #expect(batch.written(1, bytes: 100) == .none)
        #expect(batch.written(2, bytes: 100) == .none)
        #expect(batch.flushedBytes == 0)
        // The third reaches the byte limit: its writer takes all three to flush.
        #expect(batch.written(3, bytes: 100) == .flush([1, 2, 3], bytes: 300))
        #expect(batch.flushedBytes == 0)
        batch.flushed(bytes: 300)
        #expect(batch.flushedBytes == 300)
        #expect(batch.finishing() == .none)
        // Small shards reach the file limit first.
        for file in 4...6 { #expect(batch.written(file, bytes: 1) == .none) }
        #expect(batch.written(7, bytes: 1) == .flush([4, 5, 6, 7], bytes: 4))
        // While that batch is being flushed, another reader writes; the end hands over what is pending.
        #expect(batch.written(8, bytes: 50) == .none)
        #expect(batch.finishing() == .flush([8], bytes: 50))
        // The flushes finish in any order; each batch counts once its own flush is done.
        batch.flushed(bytes: 50)
        #expect(batch.flushedBytes == 350)
        batch.flushed(bytes: 4)
        #expect(batch.flushedBytes == 354)
        #expect(batch.finishing() == .none)
    }

    @Test("a resumed rebuild rewrites rebuilt shards that were torn, damaged or lost, and keeps the intact ones")
    func resumedRebuildRewritesTornShards() throws {
        let scenario = try Scenario(seed: 41)
        defer { scenario.fixture.remove() }
        try scenario.replace(3)
        let store = try scenario.fixture.open()
        var updates: [RebuildProgress] = []
        let first = try store.rebuild(member: 3) { updates.append($0) }
        let shards = scenario.original.count
        #expect(first.unrepairable.isEmpty)
        #expect(first.shardsWritten == shards)
        // Every other member is whole: exactly k shards are read per shard written.
        #expect(first.shardsRead == shards * scenario.fixture.geometry.dataShards)
        #expect(try scenario.shards(on: 3) == scenario.original)
        // A shard file: a 4 KiB header region, the shard's bytes, a 4 KiB checksum region (64 blocks' CRCs).
        let bodyBytes = 4096 + scenario.fixture.geometry.shardBytes + 4096
        #expect(updates.map(\.bytesWritten) == updates.map(\.bytesWritten).sorted())
        #expect(updates.last?.bytesWritten == shards * bodyBytes)
        #expect(updates.last?.segmentsDone == updates.last?.segmentsTotal)

        // A power cut in the middle of the rebuild: one file short, one with a flipped block byte, one with a
        // damaged header, one never written.
        let names = scenario.original.keys.sorted()
        try #require(names.count >= 4)
        let directory = scenario.directory(of: 3)
        try truncate(directory.appending(names[0]), to: 1000)
        let size = Int(
            try FileManager.default.attributesOfItem(atPath: directory.appending(names[1]).string)[.size] as! UInt64)
        try flip(directory.appending(names[1]), at: size - 3 * 4100 - 100)
        try flip(directory.appending(names[2]), at: 10)
        try FileManager.default.removeItem(atPath: directory.appending(names[3]).string)

        var resumedUpdates: [RebuildProgress] = []
        let resumed = try scenario.fixture.open().rebuild(member: 3) { resumedUpdates.append($0) }
        #expect(resumed.unrepairable.isEmpty)
        #expect(resumed.shardsWritten == 4)
        #expect(resumed.shardsAlreadyIntact == shards - 4)
        // Its progress says how much of the member was already there.
        #expect(resumedUpdates.last?.shardsAlreadyIntact == shards - 4)
        #expect(resumedUpdates.last?.bytesAlreadyIntact == (shards - 4) * bodyBytes)
        #expect(resumedUpdates.last?.bytesWritten == 4 * bodyBytes)
        #expect(resumed.shardsRead == 4 * scenario.fixture.geometry.dataShards)
        #expect(try scenario.shards(on: 3) == scenario.original)
        // Member 3 carries its share: with two others gone the stream still reads back.
        try scenario.fixture.wipe(1)
        try scenario.fixture.wipe(5)
        #expect(try scenario.fixture.open().openReader(for: Self.stream).readAll() == scenario.data)
    }

    @Test("with m shards of every segment lost (the target's and another's), exactly the k survivors are read")
    func rebuildFromExactlyKSurvivors() throws {
        // 4 + 2 over 6 members: every segment has a shard on every member.
        let scenario = try Scenario(seed: 43, memberCount: 6)
        defer { scenario.fixture.remove() }
        try scenario.replace(3)
        let survivors = scenario.fixture.members.enumerated().filter { $0.offset != 0 }.map(\.element)
        let report = try scenario.fixture.open(survivors).rebuild(member: 3)
        #expect(report.unrepairable.isEmpty)
        #expect(report.shardsWritten == scenario.original.count)
        #expect(report.shardsRead == report.shardsWritten * scenario.fixture.geometry.dataShards)
        #expect(try scenario.shards(on: 3) == scenario.original)
        #expect(try scenario.fixture.open(survivors).openReader(for: Self.stream).readAll() == scenario.data)
    }

    @Test("with m other members lost, segments that kept k shards are rebuilt and the others reported unrepairable")
    func rebuildWithMOthersLost() throws {
        let scenario = try Scenario(seed: 53)
        defer { scenario.fixture.remove() }
        try scenario.replace(3)
        // Member 0 is absent from the assembly; member 5 is present but has lost its shards.
        try FileManager.default.removeItem(atPath: scenario.fixture.members[5].appending("streams").string)
        let survivors = scenario.fixture.members.enumerated().filter { $0.offset != 0 }.map(\.element)
        let report = try scenario.fixture.open(survivors).rebuild(member: 3)

        let geometry = scenario.fixture.geometry
        let placement = Placement(geometry: geometry)
        var repairable: [String: [UInt8]] = [:]
        var lost: [String] = []
        for (name, bytes) in scenario.original {
            let segment = UInt64(name.dropFirst(8).dropLast(6), radix: 16)!
            let members = (0..<geometry.shardsPerSegment).map {
                placement.member(ofShard: $0, segment: segment, stream: Self.stream.rawValue)
            }
            if members.filter([0, 3, 5].contains).count > geometry.parityShards {
                lost.append("\(Self.stream) segment \(segment)")
            } else {
                repairable[name] = bytes
            }
        }
        try #require(!lost.isEmpty && !repairable.isEmpty, "the scenario should have both kinds of segment")
        #expect(report.unrepairable.sorted() == lost.sorted())
        #expect(report.shardsWritten == repairable.count)
        #expect(try scenario.shards(on: 3) == repairable)
    }

    @Test("a block that fails its CRC in a source shard is replaced by the next shard, from that block on")
    func damagedSourceBlock() throws {
        let scenario = try Scenario(seed: 47)
        defer { scenario.fixture.remove() }
        // Every shard on member 1 has one damaged block in its middle.
        for name in try scenario.shards(on: 1).keys {
            let path = scenario.directory(of: 1).appending(name)
            let size = Int(try FileManager.default.attributesOfItem(atPath: path.string)[.size] as! UInt64)
            try flip(path, at: size - 30 * 4100 - 7)
        }
        try scenario.replace(3)
        let report = try scenario.fixture.open().rebuild(member: 3)
        #expect(report.unrepairable.isEmpty)
        #expect(report.shardsWritten == scenario.original.count)
        #expect(report.shardsRead > report.shardsWritten * scenario.fixture.geometry.dataShards)
        #expect(try scenario.shards(on: 3) == scenario.original)
    }

    @Test("a member that cannot be written ends the rebuild with an I/O error")
    func unwritableMember() throws {
        let scenario = try Scenario(seed: 61)
        defer { scenario.fixture.remove() }
        try scenario.replace(3)
        // Where the stream's directory belongs, a file: nothing can be created in it.
        let streams = scenario.fixture.members[3].appending("streams")
        try FileManager.default.createDirectory(atPath: streams.string, withIntermediateDirectories: true)
        try Data([1]).write(to: URL(fileURLWithPath: scenario.directory(of: 3).string))
        let store = try scenario.fixture.open()
        let error = #expect(throws: StreamStorageError.self) { try store.rebuild(member: 3) }
        #expect(error?.kind == .io, "\(error as Any)")
    }

    @Test("the throttle holds the rebuild to its rate")
    func throttle() throws {
        let scenario = try Scenario(seed: 59)
        defer { scenario.fixture.remove() }
        try scenario.replace(3)
        let bytes = scenario.original.values.map(\.count).reduce(0, +)
        let rate = bytes  // one second's worth
        let start = ContinuousClock.now
        let report = try scenario.fixture.open().rebuild(member: 3, bytesPerSecond: rate)
        let elapsed = start.duration(to: .now)
        #expect(report.shardsWritten == scenario.original.count)
        #expect(elapsed >= .milliseconds(900), "a rebuild throttled to one second took \(elapsed)")
    }

    /// A stream written to a 4 + 2 array of 7 members, and the shard files one member held before it failed.
    struct Scenario {
        let fixture: ArrayFixture
        let data: [UInt8]
        /// Member 3's shard files before its loss, by name.
        let original: [String: [UInt8]]

        init(seed: UInt64, memberCount: Int = 7) throws {
            fixture = try ArrayFixture(memberCount: memberCount)
            data = PatternGenerator(seed: seed).bytesOnce(9_000_000)
            let appender = try fixture.open().openAppender(for: RebuildTests.stream)
            try appender.append(data)
            _ = try appender.makeDurable()
            appender.close()
            original = try Self.shardFiles(in: Self.directory(of: fixture.members[3]))
        }

        func directory(of member: Int) -> FilePath {
            Self.directory(of: fixture.members[member])
        }

        /// The shard files on `member`, by name.
        func shards(on member: Int) throws -> [String: [UInt8]] {
            try Self.shardFiles(in: directory(of: member))
        }

        static func directory(of member: FilePath) -> FilePath {
            member.appending("streams/\(RebuildTests.stream)")
        }

        static func shardFiles(in directory: FilePath) throws -> [String: [UInt8]] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.string)) ?? []
            var files: [String: [UInt8]] = [:]
            for name in names where name.hasSuffix(".shard") {
                files[name] = [UInt8](try Data(contentsOf: URL(fileURLWithPath: directory.appending(name).string)))
            }
            return files
        }

        /// Wipes `member` and adopts the blank directory in its place, as a technician would.
        func replace(_ member: Int) throws {
            try FileManager.default.removeItem(atPath: fixture.members[member].string)
            let others = fixture.members.enumerated().filter { $0.offset != member }.map(\.element)
            try fixture.open(others).adoptReplacement(fixture.members[member], as: member)
        }
    }
}

private func truncate(_ path: FilePath, to length: Int) throws {
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path.string))
    defer { try? handle.close() }
    try handle.truncate(atOffset: UInt64(length))
}

private func flip(_ path: FilePath, at offset: Int) throws {
    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path.string)))
    bytes[offset] ^= 0x5A
    try Data(bytes).write(to: URL(fileURLWithPath: path.string))
}
