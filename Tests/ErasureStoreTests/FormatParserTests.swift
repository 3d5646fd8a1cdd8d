import Foundation
import HashChain
import PropertyBased
@_spi(Fuzzing) import StoreFormat
import TestSupport
import Testing

@_spi(Fuzzing) @testable import ErasureStore

/// The parsers of what a member holds, against valid encodings and mutations of them: the same property
/// `Fuzz/StoreFormatFuzzer` checks under libFuzzer (``FormatRoundTrip``).
@Suite("On-disk format parsers")
struct FormatParserTests {
    /// A valid shard header, journal (header and records), member label and records under the fuzzer's fixed
    /// journal header, from `seed`.
    static func encodings(seed: UInt64) -> [[UInt8]] {
        var random = SplitMix64(seed: seed)
        let arrayID = random.bytes(16)
        let stream = ["a", "ee.population.wal", String(repeating: "x", count: 200)][Int(random.next() % 3)]
        let segment = random.next() % 1000
        let shardHeader = ShardHeader(
            arrayID: arrayID, stream: stream, segment: segment, shardIndex: Int(random.next() % 11), dataShards: 8,
            parityShards: 3, shardBytes: 1 << 20, blockBytes: 64 << 10, streamOffset: segment << 23,
            chainHead: ChainHead(random.bytes(32))!, encapsulatedKey: random.bytes(32), wrappedKey: random.bytes(48),
            dataTag: random.bytes(16))
        let journalHeader = JournalHeader(
            arrayID: arrayID, stream: stream, segment: segment, segmentOffset: segment << 20, salt: random.bytes(32))
        func records(under header: JournalHeader) -> [UInt8] {
            var offset = header.segmentOffset
            var bytes: [UInt8] = []
            for _ in 0..<(random.next() % 4) {
                let record = JournalRecord(
                    streamOffset: offset, ciphertext: random.bytes(Int(random.next() % 40)), tag: random.bytes(16))
                bytes += record.encoded(header: header)
                offset += UInt64(record.ciphertext.count)
            }
            return bytes
        }
        let geometry = try! ArrayGeometry(
            dataShards: 1 + Int(random.next() % 8), parityShards: 3, memberCount: 12, shardBytes: 1 << 20,
            blockBytes: 64 << 10)
        let label = MemberIdentity(arrayID: arrayID, index: Int(random.next() % 12), geometry: geometry)
        return [
            shardHeader.encoded(), journalHeader.encoded() + records(under: journalHeader), label.encoded(),
            records(under: FormatRoundTrip.recordHeader),
        ]
    }

    @Test("valid encodings parse to what they encode, every record included")
    func validEncodings() async {
        await propertyCheck(count: 200, input: Gen.uint64()) { seed in
            let encodings = Self.encodings(seed: seed)
            #expect(FormatRoundTrip.violation(in: encodings[0]) == nil)
            #expect(try ShardHeader.decode(encodings[0]).1 == encodings[0].count)
            let (header, length) = try JournalHeader.decode(encodings[1])
            #expect(JournalRecord.parseAll(encodings[1], from: length, header: header).1 == encodings[1].count)
            #expect(try MemberIdentity(decoding: encodings[2]).encoded() == encodings[2])
            #expect(
                JournalRecord.parseAll(encodings[3], from: 0, header: FormatRoundTrip.recordHeader).1
                    == encodings[3].count)
            for bytes in encodings { #expect(FormatRoundTrip.violation(in: bytes) == nil) }
        }
    }

    /// The fuzzer's seeds, read from `Fuzz/StoreFormatFuzzer/corpus`: each format's valid seed parses, so libFuzzer
    /// starts from inputs that reach past the checksums.
    @Test("the fuzzer's seed corpus holds a valid encoding of every format")
    func seedCorpus() throws {
        let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "../../Fuzz/StoreFormatFuzzer/corpus"
        ).standardized
        func seed(_ name: String) throws -> [UInt8] {
            [UInt8](try Data(contentsOf: corpus.appendingPathComponent(name)))
        }
        #expect(try ShardHeader.decode(seed("shard-header")).0.stream == "ee.population.wal")
        #expect(try ShardHeader.decode(seed("shard-header-long-stream")).0.shardIndex == 10)
        let journal = try seed("journal-records")
        let (header, length) = try JournalHeader.decode(journal)
        #expect(JournalRecord.parseAll(journal, from: length, header: header).0.map(\.ciphertext.count) == [10, 0, 33])
        let records = try seed("records-fixed-header")
        #expect(
            JournalRecord.parseAll(records, from: 0, header: FormatRoundTrip.recordHeader).0.map(\.ciphertext.count)
                == [1, 60, 3])
        #expect(
            JournalRecord.parseAll(
                try seed("records-beyond-64"), from: 0, header: FormatRoundTrip.recordHeader, segmentBytes: 64
            ).0.count == 1)
        #expect(try MemberIdentity(decoding: seed("label")).index == 3)
        #expect(throws: FormatError.self) { try MemberIdentity(decoding: seed("label-index-out-of-array")) }
        let names = try ["name-segment", "name-journal-at-limit", "name-journal-overflow", "name-signed"].map {
            String(decoding: try seed($0), as: UTF8.self)
        }
        let found = MemberLayout.indices(in: names, segmentBytes: 1 << 20)
        #expect(found.shards == [1] && found.journals.isEmpty && found.unrecognised.count == 3)
        for name in try FileManager.default.contentsOfDirectory(atPath: corpus.path) {
            #expect(FormatRoundTrip.violation(in: try seed(name)) == nil, "\(name)")
        }
    }

    /// Mutations a damaged or hostile disk produces: a byte changed, the file cut short, bytes inserted (which shift
    /// every field after them), a length or count field set to its largest value.
    @Test("mutated valid encodings never trap, and are refused or decode to what re-encodes to the same bytes")
    func mutatedEncodings() async {
        await propertyCheck(
            count: 3000, input: Gen.uint64(), Gen.int(in: 0...3), Gen.int(in: 0...400), Gen.uint8(),
            Gen.int(in: 1...8)
        ) { seed, kind, position, value, count in
            for var bytes in Self.encodings(seed: seed) {
                let at = bytes.isEmpty ? 0 : position % bytes.count
                switch kind {
                case 0 where !bytes.isEmpty: bytes[at] = value
                case 1: bytes.removeLast(min(bytes.count, count))
                case 2: bytes.insert(contentsOf: Array(repeating: value, count: count), at: at)
                default:
                    bytes.replaceSubrange(at..<min(bytes.count, at + count), with: Array(repeating: 0xFF, count: count))
                }
                let violation = FormatRoundTrip.violation(in: bytes)
                #expect(violation == nil, "\(violation ?? ""): \(bytes)")
            }
        }
    }

    @Test("a record of missed writes is named by its member and token, and no other name is taken for one")
    func missedWritesNames() {
        let name = MemberLayout.missedWritesName(member: 7, token: "0123456789abcdef")
        #expect(name == "member-7-0123456789abcdef")
        #expect(MemberLayout.missedWritesRecord(name)! == (7, "0123456789abcdef"))
        for other in [
            "member-7-0123456789abcde", "member-7-0123456789ABCDEF", "member-x-0123456789abcdef",
            "member-7-0123456789abcdef.new", "member--1-0123456789abcdef", "member-256-0123456789abcdef",
            "spare-7-0123456789abcdef", "member-7",
        ] {
            #expect(MemberLayout.missedWritesRecord(other) == nil, "\(other)")
        }
    }
}
