import CryptoPrimitives
import DurableFiles
import Foundation
import HashChain
import StoreFormat
import StreamStore
import SystemPackage
import TestSupport
import Testing

@testable import ErasureStore

@Suite("Erasure-coded store")
struct ErasureStoreTests {
    static let stream = try! StreamName("ee.population.wal")

    @Test(
        "random appends round-trip for several geometries, with range reads",
        arguments: [(4, 2, 7, 256 << 10), (2, 1, 3, 512 << 10), (8, 3, 11, 128 << 10), (1, 1, 2, 1 << 20)])
    func roundTrip(dataShards: Int, parityShards: Int, members: Int, shardBytes: Int) throws {
        let fixture = try ArrayFixture(
            dataShards: dataShards, parityShards: parityShards, memberCount: members, shardBytes: shardBytes)
        defer { fixture.remove() }
        var generator = PatternGenerator(seed: UInt64(dataShards * 100 + parityShards))
        var expected: [UInt8] = []
        let store = try fixture.open()
        let appender = try store.openAppender(for: Self.stream)
        for round in 0..<12 {
            let size = Int(generator.next() % 700_000)
            let piece = generator.bytes(size)
            try appender.append(piece)
            expected += piece
            if round % 3 == 2 { #expect(try appender.makeDurable() == UInt64(expected.count)) }
        }
        #expect(try appender.makeDurable() == UInt64(expected.count))
        appender.close()

        let reader = try fixture.open().openReader(for: Self.stream)
        #expect(reader.length == UInt64(expected.count))
        #expect(try reader.readAll() == expected)
        for _ in 0..<20 {
            let offset = Int(generator.next() % UInt64(expected.count))
            let count = Int(generator.next() % 3_000_000)
            let end = min(expected.count, offset + count)
            #expect(try reader.read(at: UInt64(offset), count: count) == Array(expected[offset..<end]))
        }
    }

    @Test("the durable length and the head survive reopening, and the stream continues")
    func reopenAndContinue() throws {
        let fixture = try ArrayFixture()
        defer { fixture.remove() }
        var generator = PatternGenerator(seed: 7)
        let first = generator.bytes(1_500_000)
        let second = generator.bytes(900_000)
        do {
            let appender = try fixture.open().openAppender(for: Self.stream)
            try appender.append(first)
            _ = try appender.makeDurable()
            appender.close()
        }
        let appender = try fixture.open().openAppender(for: Self.stream)
        #expect(appender.durableLength == UInt64(first.count))
        try appender.append(second)
        _ = try appender.makeDurable()
        appender.close()
        #expect(try fixture.open().openReader(for: Self.stream).readAll() == first + second)
    }

    @Test("up to m members lost: reads are correct; m + 1 lost: a clear error, never wrong bytes")
    func memberLoss() throws {
        let fixture = try ArrayFixture(dataShards: 4, parityShards: 2, memberCount: 6)
        defer { fixture.remove() }
        var generator = PatternGenerator(seed: 11)
        let data = generator.bytes(5_300_000)  // five committed segments and a journaled tail
        let appender = try fixture.open().openAppender(for: Self.stream)
        try appender.append(data)
        _ = try appender.makeDurable()
        appender.close()

        try fixture.wipe(1)
        #expect(try fixture.open().openReader(for: Self.stream).readAll() == data)
        try FileManager.default.removeItem(atPath: fixture.members[4].string)
        #expect(
            try fixture.open(fixture.members.enumerated().filter { $0.offset != 4 }.map(\.element))
                .openReader(for: Self.stream).readAll() == data)

        try fixture.wipe(2)
        do {
            let reader = try fixture.open(fixture.members.enumerated().filter { $0.offset != 4 }.map(\.element))
                .openReader(for: Self.stream)
            _ = try reader.readAll()
            Issue.record("read with m + 1 members lost returned bytes")
        } catch let error as StreamStorageError {
            #expect(error.kind == .unavailable || error.kind == .corrupt, "\(error)")
        }
    }

    @Test("random byte flips in shards: reads stay correct and scrub repairs every damaged shard")
    func byteFlipsAndScrub() throws {
        let fixture = try ArrayFixture()
        defer { fixture.remove() }
        var generator = PatternGenerator(seed: 13)
        let data = generator.bytes(4 << 20)
        let store = try fixture.open()
        let appender = try store.openAppender(for: Self.stream)
        try appender.append(data)
        _ = try appender.makeDurable()
        appender.close()

        // Flip one byte in two shards of every segment (m = 2), chosen at random: each is then repairable.
        var shardsBySegment: [String: [String]] = [:]
        for member in fixture.members {
            let directory = member.appending("streams/\(Self.stream)").string
            for name in try FileManager.default.contentsOfDirectory(atPath: directory) where name.hasSuffix(".shard") {
                shardsBySegment[name, default: []].append("\(directory)/\(name)")
            }
        }
        var flipped = 0
        for (_, paths) in shardsBySegment.sorted(by: { $0.key < $1.key }) {
            var candidates = paths
            for _ in 0..<fixture.geometry.parityShards {
                let path = candidates.remove(at: Int(generator.next() % UInt64(candidates.count)))
                var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
                let position = Int(generator.next() % UInt64(bytes.count))
                bytes[position] ^= 0x5A
                try Data(bytes).write(to: URL(fileURLWithPath: path))
                flipped += 1
            }
        }
        try #require(flipped > 0)
        #expect(try fixture.open().openReader(for: Self.stream).readAll() == data)
        let report = try fixture.open().scrub()
        #expect(report.shardsDamaged == flipped, "\(report)")
        #expect(report.shardsRepaired == flipped, "\(report)")
        #expect(report.unrepairable.isEmpty)
        #expect(try fixture.open().scrub().shardsDamaged == 0)
    }

    @Test("a shard file's padding is verified too: a byte changed there is damage that scrub repairs")
    func paddingIsVerified() throws {
        let fixture = try ArrayFixture()
        defer { fixture.remove() }
        let data = PatternGenerator(seed: 17).bytesOnce(fixture.geometry.segmentBytes)
        let appender = try fixture.open().openAppender(for: Self.stream)
        try appender.append(data)
        _ = try appender.makeDurable()
        appender.close()
        // One member of the seven holds no shard of the one segment.
        let shards = fixture.members.compactMap { member -> String? in
            let directory = member.appending("streams/\(Self.stream)").string
            return (try? FileManager.default.contentsOfDirectory(atPath: directory))?.first { $0.hasSuffix(".shard") }
                .map { "\(directory)/\($0)" }
        }
        try #require(shards.count == fixture.geometry.shardsPerSegment)
        // The last byte of the header's 4 KiB region, and the last byte of the file (the checksum table's padding).
        for (path, position) in [(shards[0], 4095), (shards[1], -1)] {
            var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            bytes[position < 0 ? bytes.count + position : position] ^= 0x01
            try Data(bytes).write(to: URL(fileURLWithPath: path))
        }
        #expect(try fixture.open().openReader(for: Self.stream).readAll() == data)
        let report = try fixture.open().scrub()
        #expect(report.shardsDamaged == 2, "\(report)")
        #expect(report.shardsRepaired == 2, "\(report)")
        #expect(try fixture.open().scrub().shardsDamaged == 0)
    }

    @Test("members shuffled and renamed reassemble; foreign, duplicate and unlabelled ones are reported")
    func reassembly() throws {
        let fixture = try ArrayFixture()
        defer { fixture.remove() }
        let other = try ArrayFixture()
        defer { other.remove() }
        let data = PatternGenerator(seed: 17).bytesOnce(2_200_000)
        let appender = try fixture.open().openAppender(for: Self.stream)
        try appender.append(data)
        _ = try appender.makeDurable()
        appender.close()

        var renamed: [FilePath] = []
        for (index, member) in fixture.members.enumerated().reversed() {
            let target = FilePath("\(fixture.scratch.path)/bay-\(UUID().uuidString)-\(index)")
            try FileManager.default.moveItem(atPath: member.string, toPath: target.string)
            renamed.append(target)
        }
        let duplicate = FilePath("\(fixture.scratch.path)/copy-of-3")
        try FileManager.default.copyItem(atPath: renamed[3].string, toPath: duplicate.string)
        let empty = FilePath("\(fixture.scratch.path)/empty")
        try FileManager.default.createDirectory(atPath: empty.string, withIntermediateDirectories: true)
        let store = try fixture.open(renamed.shuffled() + [other.members[0], duplicate, empty])
        #expect(store.assembly.missing.isEmpty)
        #expect(store.assembly.foreign == [other.members[0]])
        #expect(store.assembly.duplicates.count == 1)
        #expect(store.assembly.unlabelled == [empty])
        #expect(try store.openReader(for: Self.stream).readAll() == data)
    }

    @Test("a shard copied from another array is rejected and rebuilt from parity")
    func foreignShard() throws {
        let fixture = try ArrayFixture(dataShards: 2, parityShards: 1, memberCount: 3, shardBytes: 512 << 10)
        defer { fixture.remove() }
        let other = try ArrayFixture(dataShards: 2, parityShards: 1, memberCount: 3, shardBytes: 512 << 10)
        defer { other.remove() }
        var generator = PatternGenerator(seed: 19)
        let ours = generator.bytes(1 << 20)
        let theirs = generator.bytes(1 << 20)
        for (fixture, data) in [(fixture, ours), (other, theirs)] {
            let appender = try fixture.open().openAppender(for: Self.stream)
            try appender.append(data)
            _ = try appender.makeDurable()
            appender.close()
        }
        // Same stream, same segment, same placement: copy the other array's shard over ours on every member that
        // holds one of the same name, one member only.
        let relative = "streams/\(Self.stream)/segment-0000000000000000.shard"
        let source = other.members[0].appending(relative).string
        let target = fixture.members[0].appending(relative).string
        try FileManager.default.removeItem(atPath: target)
        try FileManager.default.copyItem(atPath: source, toPath: target)
        #expect(try fixture.open().openReader(for: Self.stream).readAll() == ours)
        #expect(try fixture.open().scrub().shardsRepaired == 1)
    }

    @Test("no plaintext on any member: a marker written in the stream is absent from every member's bytes")
    func noPlaintext() throws {
        let fixture = try ArrayFixture()
        defer { fixture.remove() }
        let marker = Array("SAATKOND-PLAINTEXT-MARKER-0123456789".utf8)
        var data: [UInt8] = []
        for _ in 0..<(3 << 20) / marker.count { data += marker }
        let appender = try fixture.open().openAppender(for: Self.stream)
        try appender.append(data)
        _ = try appender.makeDurable()
        try appender.append(marker + marker)  // a journaled tail too
        _ = try appender.makeDurable()
        appender.close()
        var filesRead = 0
        for member in fixture.members {
            let enumerator = FileManager.default.enumerator(atPath: member.string)!
            while let relative = enumerator.nextObject() as? String {
                let path = member.appending(relative).string
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue
                else { continue }
                let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
                filesRead += 1
                #expect(!bytes.contains(marker), "the marker is in \(path)")
                #expect(!bytes.contains(Array(marker[4..<20])), "part of the marker is in \(path)")
            }
        }
        #expect(filesRead > fixture.members.count)
    }

    @Test("rebuild restores a replaced member without any key, resumably, reporting progress")
    func rebuild() throws {
        let fixture = try ArrayFixture()
        defer { fixture.remove() }
        let data = PatternGenerator(seed: 23).bytesOnce(6_500_000)
        let appender = try fixture.open().openAppender(for: Self.stream)
        try appender.append(data)
        _ = try appender.makeDurable()
        appender.close()
        let before = try FileManager.default.contentsOfDirectory(
            atPath: fixture.members[3].appending("streams/\(Self.stream)").string)

        try FileManager.default.removeItem(atPath: fixture.members[3].string)
        let writerOnly = try StorageKeys(
            storagePublicKey: fixture.keys.storagePublicKey, storagePrivateKey: nil,
            journalKey: try CryptoRandom.secretBytes(count: 32))
        let degraded = try ErasureCodedStore(
            members: fixture.members.filter { $0 != fixture.members[3] }, keys: writerOnly)
        try degraded.adoptReplacement(fixture.members[3], as: 3)
        let store = try ErasureCodedStore(members: fixture.members, keys: writerOnly)
        var updates: [RebuildProgress] = []
        let report = try store.rebuild(member: 3) { updates.append($0) }
        #expect(report.unrepairable.isEmpty)
        #expect(report.shardsWritten > 0)
        #expect(updates.last?.segmentsDone == updates.last?.segmentsTotal)
        let after = try FileManager.default.contentsOfDirectory(
            atPath: fixture.members[3].appending("streams/\(Self.stream)").string)
        #expect(Set(after.filter { !$0.hasSuffix(".lock") }) == Set(before.filter { !$0.hasSuffix(".lock") }))
        // A second run finds everything intact: the rebuild is resumable.
        let again = try store.rebuild(member: 3)
        #expect(again.shardsWritten == 0)
        #expect(again.shardsAlreadyIntact == report.shardsWritten)
        // With member 3 rebuilt, two others may go and the data is still there.
        try fixture.wipe(0)
        try fixture.wipe(5)
        #expect(try fixture.open().openReader(for: Self.stream).readAll() == data)
    }

    @Test("the head hash equals an independent computation of the chain")
    func headHash() throws {
        let fixture = try ArrayFixture()
        defer { fixture.remove() }
        let data = PatternGenerator(seed: 29).bytesOnce(2_750_000)
        let appender = try fixture.open().openAppender(for: Self.stream)
        try appender.append(data)
        #expect(appender.durableHead == .empty)
        _ = try appender.makeDurable()
        #expect(appender.durableHead == StreamHashChain.head(of: data))
        appender.close()
        let reopened = try fixture.open().openAppender(for: Self.stream)
        #expect(reopened.durableHead == StreamHashChain.head(of: data))
        reopened.close()
    }

    @Test("a flush to the boundary makes the full segments durable without journaling the open one's bytes")
    func flushToBoundary() throws {
        let fixture = try ArrayFixture()
        defer { fixture.remove() }
        let segment = fixture.geometry.segmentBytes
        let data = PatternGenerator(seed: 31).bytesOnce(2 * segment + 300_000)
        do {
            let appender = try fixture.open().openAppender(for: Self.stream)
            try appender.append(data)
            #expect(try appender.makeDurableToBoundary() == UInt64(2 * segment))
            #expect(appender.durableHead == StreamHashChain.head(of: Array(data[..<(2 * segment)])))
            let journals = fixture.members.flatMap { member in
                ((try? FileManager.default.subpathsOfDirectory(atPath: member.string)) ?? []).filter {
                    $0.hasSuffix(".log")
                }
            }
            #expect(journals.isEmpty, "the open segment's bytes were journaled: \(journals)")
            // The bytes past the boundary were never made durable: closing now is the writer dying.
            appender.close()
        }
        let appender = try fixture.open().openAppender(for: Self.stream)
        #expect(appender.durableLength == UInt64(2 * segment))
        try appender.append(Array(data[(2 * segment)...]))
        // No boundary passed since the last durable point: the flush takes everything.
        #expect(try appender.makeDurableToBoundary() == UInt64(data.count))
        #expect(appender.durableHead == StreamHashChain.head(of: data))
        appender.close()
        #expect(try fixture.open().openReader(for: Self.stream).readAll() == data)
    }

    /// Recovery keeps only which shards of its window are damaged, and reads a segment again to repair it.
    @Test("opening an appender repairs the missing and damaged shards of the last segments from parity")
    func openingRepairsTheWindow() throws {
        let fixture = try ArrayFixture()
        defer { fixture.remove() }
        let store = try fixture.open()
        let segment = fixture.geometry.segmentBytes
        let data = PatternGenerator(seed: 59).bytesOnce(3 * segment + 5000)
        let first = try store.openAppender(for: Self.stream)
        try first.append(data)
        _ = try first.makeDurable()
        first.close()
        let missing = MemberLayout(
            root: fixture.members[store.placement.member(ofShard: 1, segment: 1, stream: Self.stream.rawValue)]
        )
        .shard(Self.stream.rawValue, segment: 1)
        let damaged = MemberLayout(
            root: fixture.members[store.placement.member(ofShard: 4, segment: 2, stream: Self.stream.rawValue)]
        )
        .shard(Self.stream.rawValue, segment: 2)
        let intact = try FileSystemCalls.readAll(damaged)
        try FileManager.default.removeItem(atPath: missing.string)
        var flipped = intact
        flipped[flipped.count / 2] ^= 0x40
        try Data(flipped).write(to: URL(fileURLWithPath: damaged.string))

        try fixture.open().openAppender(for: Self.stream).close()
        #expect(FileManager.default.fileExists(atPath: missing.string), "the missing shard was not rewritten")
        #expect(try FileSystemCalls.readAll(damaged) == intact, "the damaged shard was not rewritten")
        #expect(try fixture.open().openReader(for: Self.stream).readAll() == data)
    }

    @Test("a second appender is refused while the first holds the stream; a missing stream is unknown")
    func exclusiveAndUnknown() throws {
        let fixture = try ArrayFixture()
        defer { fixture.remove() }
        let store = try fixture.open()
        let first = try store.openAppender(for: Self.stream)
        #expect(throws: StreamStorageError.streamBusy(Self.stream)) { try store.openAppender(for: Self.stream) }
        first.close()
        #expect(throws: StreamStorageError.unknownStream(try StreamName("ee.nothing"))) {
            try store.openReader(for: try StreamName("ee.nothing"))
        }
    }
}

extension SplitMix64 {
    func bytesOnce(_ count: Int) -> [UInt8] {
        var copy = self
        return copy.bytes(count)
    }
}

extension Array where Element == UInt8 {
    func contains(_ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, needle.count <= count else { return false }
        let first = needle[0]
        var index = 0
        while let found = self[index...].firstIndex(of: first), found + needle.count <= count {
            if self[found..<(found + needle.count)].elementsEqual(needle) { return true }
            index = found + 1
        }
        return false
    }
}
