import CryptoPrimitives
import DurableFiles
import ErasureCode
import Foundation
import HashChain
@_spi(Fuzzing) import StoreFormat
import StreamStore
import SystemPackage
import Testing

@_spi(Fuzzing) @testable import ErasureStore

/// Shards whose bytes or header were changed by someone who recomputed their CRCs (a technician with the disk in
/// hand can), and member files made huge or named to overflow: real files on real members throughout.
@Suite("Lying shards and hostile member files")
struct LyingShardTests {
    static let stream = try! StreamName("ee.lying.wal")

    /// Two and a half segments, durable, on a fresh 4 + 2 array over 7 members.
    private static func written(_ fixture: ArrayFixture, seed: UInt64 = 61) throws -> [UInt8] {
        let data = PatternGenerator(seed: seed).bytesOnce(fixture.geometry.segmentBytes * 5 / 2)
        let appender = try fixture.open().openAppender(for: stream)
        try appender.append(data)
        _ = try appender.makeDurable()
        appender.close()
        return data
    }

    private static func shardPath(_ fixture: ArrayFixture, segment: UInt64, shard: Int) throws -> FilePath {
        let store = try fixture.open()
        let member = store.placement.member(ofShard: shard, segment: segment, stream: stream.rawValue)
        return MemberLayout(root: fixture.members[member]).shard(stream.rawValue, segment: segment)
    }

    private static func contents(_ path: FilePath) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path.string)))
    }

    private static func write(_ bytes: [UInt8], to path: FilePath) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path.string))
    }

    /// Changes a byte of block 1 of a shard and stores that block's recomputed CRC32C: every CRC holds.
    private static func lie(inBodyOf path: FilePath, geometry: ArrayGeometry) throws {
        var file = try contents(path)
        let layout = ShardFileLayout(geometry: geometry)
        let block = 1
        let from = layout.bodyOffset + block * geometry.blockBytes
        file[from + 77] ^= 0x40
        let checksum = file.withUnsafeBytes {
            CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[from..<(from + geometry.blockBytes)]))
        }
        withUnsafeBytes(of: checksum.bigEndian) {
            file.replaceSubrange(
                (layout.checksumOffset + 4 * block)..<(layout.checksumOffset + 4 * block + 4), with: $0)
        }
        try write(file, to: path)
    }

    /// Changes the hash-chain head a shard's header records and stores the header's recomputed CRC32C.
    private static func lie(inHeaderOf path: FilePath) throws {
        var file = try contents(path)
        var (header, length) = try ShardHeader.decode(Array(file[..<4096]))
        var head = header.chainHead.bytes
        head[0] ^= 0x01
        header.chainHead = ChainHead(head)!
        let encoded = header.encoded()
        try #require(encoded.count == length)
        file.replaceSubrange(0..<length, with: encoded)
        try write(file, to: path)
    }

    private static func keylessStore(_ fixture: ArrayFixture) throws -> ErasureCodedStore {
        let keys = try StorageKeys(
            storagePublicKey: fixture.keys.storagePublicKey, storagePrivateKey: nil,
            journalKey: fixture.keys.journalKey)
        return try ErasureCodedStore(members: fixture.members, keys: keys)
    }

    /// m = 2 liars in one segment of a 4 + 2 array: of the fifteen choices of four shards, only the one without
    /// either liar authenticates.
    @Test("m shards of one segment lying, a data shard and a parity shard: reads are identical, scrub repairs both")
    func asManyLiarsAsParity() throws {
        let fixture = try ArrayFixture()
        defer { fixture.remove() }
        let data = try Self.written(fixture, seed: 97)
        let liars = [0, 4]
        var originals: [FilePath: [UInt8]] = [:]
        for shard in liars {
            let path = try Self.shardPath(fixture, segment: 1, shard: shard)
            originals[path] = try Self.contents(path)
            try Self.lie(inBodyOf: path, geometry: fixture.geometry)
        }

        let reader = try fixture.open().openReader(for: Self.stream)
        #expect(try reader.readAll() == data)
        let locations = Set((reader as? ErasureStreamReader)?.disagreeingShards ?? [])
        #expect(locations == Set(liars.map { ErasureStreamReader.ShardLocation(segment: 1, shard: $0) }))

        let report = try fixture.open().scrub()
        #expect(report.shardsRepaired == 2, "\(report)")
        #expect(report.unrepairable.isEmpty && report.unverified.isEmpty, "\(report)")
        for (path, original) in originals { #expect(try Self.contents(path) == original, "\(path)") }
        let again = try fixture.open().scrub()
        #expect(again.shardsDamaged == 0 && again.shardsDisagreeing.isEmpty && again.shardsRepaired == 0, "\(again)")
        #expect(try fixture.open().openReader(for: Self.stream).readAll() == data)
    }

    @Test(
        "a data shard changed with its CRCs recomputed: reads are identical, scrub without the key leaves it alone, with the key repairs it"
    )
    func lyingDataShard() throws {
        let fixture = try ArrayFixture()
        defer { fixture.remove() }
        let data = try Self.written(fixture)
        let path = try Self.shardPath(fixture, segment: 1, shard: 1)
        let original = try Self.contents(path)
        try Self.lie(inBodyOf: path, geometry: fixture.geometry)
        let lying = try Self.contents(path)
        // Every CRC holds: nothing without the key can tell this shard from an honest one.
        let store = try fixture.open()
        let verified = try lying.withUnsafeBytes { file in
            try store.codec.verifyShard(
                file, arrayID: store.arrayID, stream: Self.stream.rawValue, segment: 1, index: 1)
        }
        #expect(verified == (try ShardHeader.decode(Array(original[..<4096]))).0)

        let reader = try fixture.open().openReader(for: Self.stream)
        #expect(try reader.readAll() == data)
        let locations = (reader as? ErasureStreamReader)?.disagreeingShards
        #expect(locations == [ErasureStreamReader.ShardLocation(segment: 1, shard: 1)])

        // Without the key the disagreement shows (the shards are not one codeword) but not who lies: nothing is
        // rewritten.
        let keyless = try Self.keylessStore(fixture).scrub()
        #expect(keyless.unverified == ["\(Self.stream) segment 1"], "\(keyless)")
        #expect(keyless.shardsRepaired == 0, "\(keyless)")
        #expect(try Self.contents(path) == lying)

        let report = try fixture.open().scrub()
        #expect(report.shardsDisagreeing == ["\(Self.stream) segment 1 shard 1"], "\(report)")
        #expect(report.shardsDamaged == 1, "\(report)")
        #expect(report.shardsRepaired == 1, "\(report)")
        #expect(report.unrepairable.isEmpty && report.unverified.isEmpty, "\(report)")
        #expect(try Self.contents(path) == original)
        let again = try fixture.open().scrub()
        #expect(again.shardsDamaged == 0 && again.shardsDisagreeing.isEmpty && again.shardsRepaired == 0, "\(again)")
        #expect(try Self.keylessStore(fixture).scrub().unverified.isEmpty)
        #expect(try fixture.open().openReader(for: Self.stream).readAll() == data)
    }

    @Test(
        "a shard header changed consistently: it is outvoted, reads are identical, scrub repairs it with or without the key",
        arguments: [true, false])
    func lyingHeader(withKey: Bool) throws {
        let fixture = try ArrayFixture()
        defer { fixture.remove() }
        let data = try Self.written(fixture, seed: 67)
        // A data shard and a parity shard, of two segments.
        let paths = [
            try Self.shardPath(fixture, segment: 0, shard: 0), try Self.shardPath(fixture, segment: 1, shard: 5),
        ]
        let originals = try paths.map(Self.contents)
        for path in paths { try Self.lie(inHeaderOf: path) }

        let reader = try fixture.open().openReader(for: Self.stream)
        #expect(try reader.readAll() == data)
        #expect(reader.head == StreamHashChain.head(of: data))
        let store = withKey ? try fixture.open() : try Self.keylessStore(fixture)
        let report = store.scrub()
        #expect(
            report.shardsDisagreeing == ["\(Self.stream) segment 0 shard 0", "\(Self.stream) segment 1 shard 5"],
            "\(report)")
        #expect(report.shardsDamaged == 2 && report.shardsRepaired == 2, "\(report)")
        #expect(try paths.map(Self.contents) == originals)
        let again = (withKey ? try fixture.open() : try Self.keylessStore(fixture)).scrub()
        #expect(again.shardsDamaged == 0 && again.shardsDisagreeing.isEmpty && again.shardsRepaired == 0, "\(again)")
    }

    @Test("a journal copy with a changed record and a forged one behind it, CRCs recomputed: never read, never copied")
    func lyingJournalCopy() throws {
        let fixture = try ArrayFixture()
        defer { fixture.remove() }
        let data = try Self.written(fixture, seed: 83)
        let store = try fixture.open()
        let paths = store.placement.journalMembers(segment: 2, stream: Self.stream.rawValue).map {
            MemberLayout(root: fixture.members[$0]).journal(Self.stream.rawValue, segment: 2)
        }
        let honest = try paths.map(Self.contents)
        var bytes = honest[0]
        let (header, length) = try JournalHeader.decode(bytes)
        var (records, valid) = JournalRecord.parseAll(bytes, from: length, header: header)
        try #require(!records.isEmpty)
        // The last record's ciphertext changed, and one more record (of no key) behind it: two CRC-valid records
        // that do not authenticate, which make this copy the one with the most records.
        records[records.count - 1].ciphertext[5] ^= 0x20
        let end = header.segmentOffset + UInt64(records.reduce(0) { $0 + $1.ciphertext.count })
        records.append(
            JournalRecord(
                streamOffset: end, ciphertext: [UInt8](repeating: 7, count: 100), tag: [UInt8](repeating: 0, count: 16)
            ))
        let forged = records.flatMap { $0.encoded(header: header) }
        bytes.replaceSubrange(length..<max(valid, min(bytes.count, length + forged.count)), with: forged)
        valid = length + forged.count
        try Self.write(bytes, to: paths[0])
        #expect(JournalRecord.parseAll(bytes, from: length, header: header).0 == records)

        #expect(try fixture.open().openReader(for: Self.stream).readAll() == data)
        let report = try fixture.open().scrub()
        #expect(report.journalsRepaired == 1, "\(report)")
        #expect(try paths.map(Self.contents)[1...] == honest[1...])
        // The forged copy now holds the honest records, and nothing after them that parses.
        let repaired = try Self.contents(paths[0])
        let honestRecords = JournalRecord.parseAll(honest[1], from: length, header: header)
        #expect(JournalRecord.parseAll(repaired, from: length, header: header) == (honestRecords.0, repaired.count))
        #expect(repaired.count == honestRecords.1 && repaired.count < valid)
        #expect(try fixture.open().scrub().journalsRepaired == 0)
        #expect(try fixture.open().openReader(for: Self.stream).readAll() == data)
        let appender = try fixture.open().openAppender(for: Self.stream)
        #expect(appender.durableLength == UInt64(data.count))
        appender.close()
    }

    @Test("rebuild never takes its sources from an outvoted header, even when k shards carry it")
    func rebuildIgnoresOutvotedHeader() throws {
        // k = 2, m = 4: two shards may lie together and still be outvoted by the other three.
        let fixture = try ArrayFixture(dataShards: 2, parityShards: 4, memberCount: 6, shardBytes: 512 << 10)
        defer { fixture.remove() }
        let data = PatternGenerator(seed: 71).bytesOnce(fixture.geometry.segmentBytes)
        let appender = try fixture.open().openAppender(for: Self.stream)
        try appender.append(data)
        _ = try appender.makeDurable()
        appender.close()
        let honest = try ShardHeader.decode(
            Array(try Self.contents(try Self.shardPath(fixture, segment: 0, shard: 2))[..<4096])
        ).0
        // The same forged header on shards 0 and 1, the first two a rebuild of shard 5 would open.
        for shard in [0, 1] { try Self.lie(inHeaderOf: try Self.shardPath(fixture, segment: 0, shard: shard)) }
        let target = try fixture.open().placement.member(ofShard: 5, segment: 0, stream: Self.stream.rawValue)
        try fixture.wipe(target)
        let store = try fixture.open()
        try store.adoptReplacement(fixture.members[target], as: target)
        let report = try fixture.open().rebuild(member: target)
        #expect(report.shardsWritten == 1 && report.unrepairable.isEmpty)
        var rebuilt = try ShardHeader.decode(
            Array(try Self.contents(try Self.shardPath(fixture, segment: 0, shard: 5))[..<4096])
        ).0
        #expect(rebuilt.shardIndex == 5)
        rebuilt.shardIndex = 2
        #expect(rebuilt == honest)
        #expect(try fixture.open().openReader(for: Self.stream).readAll() == data)
    }

    /// One member absent of 4 + 2: appends go on without it (m − 1 = 1 may be absent); a second absent member
    /// refuses them, naming both.
    @Test("a member label made 1 TB long: that member is absent, appends go on without it, reads go on")
    func hugeSparseLabel() throws {
        let fixture = try ArrayFixture()
        defer { fixture.remove() }
        let data = try Self.written(fixture, seed: 89)
        let label = MemberLayout(root: fixture.members[3]).identity
        #expect(truncate(label.string, 1 << 40) == 0)

        let store = try fixture.open()
        #expect(store.absentMembers().map(\.index) == [3], "\(store.absentMembers())")
        #expect(store.absentMemberIndices().keys.sorted() == [3])
        #expect(try store.openReader(for: Self.stream).readAll() == data)
        let more = PatternGenerator(seed: 90).bytesOnce(300_000)
        let appender = try store.openAppender(for: Self.stream)
        try appender.append(more)
        #expect(try appender.makeDurable() == UInt64(data.count + more.count))
        appender.close()
        #expect(try store.openReader(for: Self.stream).readAll() == data + more)

        try FileManager.default.removeItem(atPath: MemberLayout(root: fixture.members[5]).identity.string)
        #expect {
            try store.openAppender(for: Self.stream)
        } throws: { error in
            "\(error)".contains("member 3") && "\(error)".contains("member 5")
        }
    }

    @Test("a shard file and a journal copy made sparse and 1 TB long: a clear error, and every segment still reads")
    func hugeSparseFiles() throws {
        let fixture = try ArrayFixture()
        defer { fixture.remove() }
        let data = try Self.written(fixture, seed: 73)
        let terabyte = 1 << 40
        let shard = try Self.shardPath(fixture, segment: 1, shard: 2)
        let store = try fixture.open()
        let journalMember = store.placement.journalMembers(segment: 2, stream: Self.stream.rawValue)[1]
        let journal = MemberLayout(root: fixture.members[journalMember]).journal(Self.stream.rawValue, segment: 2)
        for path in [shard, journal] { #expect(truncate(path.string, terabyte) == 0) }

        do {
            _ = try MemberFile.read(shard, limit: fixture.geometry.shardFileBytes, what: "shard file")
            Issue.record("a 1 TB shard file was read")
        } catch {
            #expect(error.kind == .corrupt)
            #expect(error.description.contains("is 1099511627776 bytes long, more than the"), "\(error)")
        }
        let problem = store.readSegmentShards(stream: Self.stream.rawValue, segment: 1).problems[2]
        #expect(problem?.contains("1099511627776 bytes long") == true, "\(problem ?? "nil")")

        #expect(try fixture.open().openReader(for: Self.stream).readAll() == data)
        let report = try fixture.open().scrub()
        #expect(report.shardsRepaired == 1 && report.journalsRepaired == 1, "\(report)")
        for path in [shard, journal] { #expect(try FileSystemCalls.size(at: path) < UInt64(terabyte)) }
        #expect(try fixture.open().openReader(for: Self.stream).readAll() == data)
        // An appender resumes over it as well.
        let appender = try fixture.open().openAppender(for: Self.stream)
        #expect(appender.durableLength == UInt64(data.count))
        appender.close()
    }

    @Test("shard and journal names that would overflow, or are not the engine's, are reported, not read")
    func overflowingNames() throws {
        let fixture = try ArrayFixture()
        defer { fixture.remove() }
        let data = try Self.written(fixture, seed: 79)
        let names = [
            "journal-ffffffffffffffff.log", "segment-ffffffffffffffff.shard", "segment-+000000000000001.shard",
            "journal-1.log", "segment-000000000000000G.shard",
        ]
        let directory = MemberLayout(root: fixture.members[0]).streamDirectory(Self.stream.rawValue)
        try FileManager.default.createDirectory(atPath: directory.string, withIntermediateDirectories: true)
        for name in names { try Self.write([1, 2, 3], to: directory.appending(name)) }

        #expect(try fixture.open().openReader(for: Self.stream).readAll() == data)
        let report = try fixture.open().scrub()
        #expect(report.unrecognisedFiles == names.sorted().map { "member 0: \(Self.stream)/\($0)" }, "\(report)")
        #expect(report.shardsDamaged == 0, "\(report)")

        let found = MemberLayout.indices(
            in: names + ["segment-0000000000000002.shard", "journal-0000000000000003.log", "appender.lock"],
            segmentBytes: fixture.geometry.segmentBytes)
        #expect(found.shards == [2] && found.journals == [3])
        #expect(found.unrecognised == names.sorted())
        // The largest segment whose end is still a u64 offset is accepted; the next is not.
        let limit = UInt64.max / UInt64(fixture.geometry.segmentBytes)
        let edge = MemberLayout.indices(
            in: [String(format: "segment-%016llx.shard", limit - 1), String(format: "segment-%016llx.shard", limit)],
            segmentBytes: fixture.geometry.segmentBytes)
        #expect(edge.shards == [limit - 1] && edge.unrecognised.count == 1)
    }

    @Test("a member label with its CRC recomputed over shards of no bytes is refused, not divided by")
    func labelWithoutShardBytes() throws {
        var writer = ByteWriter()
        writer.write([UInt8]("SKMEMBR1".utf8))
        writer.write([UInt8](repeating: 9, count: 16))
        writer.write(UInt16(0))
        writer.write(UInt16(3))
        writer.write(UInt8(2))
        writer.write(UInt8(1))
        writer.write(UInt32(0))
        writer.write(UInt32(4096))
        writer.write(CRC32C.checksum(writer.bytes))
        #expect(throws: FormatError.self) { try MemberIdentity(decoding: writer.bytes) }
        #expect(FormatRoundTrip.violation(in: writer.bytes) == nil)
    }

    @Test("journal record offsets and lengths near the end of the u64 range end the parse, never overflow")
    func overflowingRecordFields() throws {
        let header = JournalHeader(
            arrayID: [UInt8](repeating: 1, count: 16), stream: "s", segment: 0, segmentOffset: UInt64.max - 1,
            salt: [UInt8](repeating: 2, count: 32))
        let record = JournalRecord(
            streamOffset: UInt64.max - 1, ciphertext: [UInt8](repeating: 3, count: 100),
            tag: [UInt8](repeating: 4, count: 16))
        let bytes = header.encoded() + record.encoded(header: header)
        let (decoded, length) = try JournalHeader.decode(bytes)
        #expect(decoded == header)
        let (records, valid) = JournalRecord.parseAll(bytes, from: length, header: decoded)
        #expect(records.isEmpty && valid == length)
        // Within the range the same record parses; beyond the segment's end it does not.
        var fitting = header
        fitting.segmentOffset = 1000
        let fittingRecord = JournalRecord(streamOffset: 1000, ciphertext: record.ciphertext, tag: record.tag)
        let fittingBytes = fitting.encoded() + fittingRecord.encoded(header: fitting)
        #expect(JournalRecord.parseAll(fittingBytes, from: length, header: fitting).0 == [fittingRecord])
        #expect(JournalRecord.parseAll(fittingBytes, from: length, header: fitting, segmentBytes: 99).0.isEmpty)
    }
}
