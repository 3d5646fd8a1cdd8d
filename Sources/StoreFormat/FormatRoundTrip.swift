import SystemPackage

/// The property the on-disk format fuzzer (`Fuzz/StoreFormatFuzzer`, run by `scripts/fuzz`) and the parsers'
/// property tests check: every parser of bytes read from a member either refuses them or returns what encodes back
/// to exactly the bytes it consumed, and none traps on any input (no overflow, no out-of-bounds slice).
///
/// SPI: nothing but the fuzzer and the tests has a use for it.
@_spi(Fuzzing) public enum FormatRoundTrip {
    /// The journal header a record parse is tried under, besides the header the input may start with.
    package static let recordHeader = JournalHeader(
        arrayID: [UInt8](repeating: 0x5A, count: 16), stream: "ee.fuzz", segment: 3, segmentOffset: 3 << 20,
        salt: [UInt8](repeating: 0xA5, count: 32))

    /// Runs every parser over `input` and stops the process at a violation, so that libFuzzer records the input.
    public static func check(_ input: UnsafeRawBufferPointer) {
        if let violation = violation(in: Array(input)) { preconditionFailure(violation) }
    }

    /// What is wrong with how the parsers treat `bytes`, or nil: the shard header, journal header and records
    /// (under the header `bytes` starts with, and under a fixed one), member label and file name parsers in turn.
    package static func violation(in bytes: [UInt8]) -> String? {
        shardHeaderViolation(bytes) ?? journalViolation(bytes)
            ?? recordsViolation(bytes, from: 0, header: recordHeader) ?? labelViolation(bytes) ?? nameViolation(bytes)
    }

    package static func shardHeaderViolation(_ bytes: [UInt8]) -> String? {
        guard let (header, length) = try? ShardHeader.decode(bytes) else { return nil }
        if header.encoded() != Array(bytes[..<length]) { return "a shard header does not encode to its bytes" }
        if (try? ShardHeader.decode(header.encoded()))?.0 != header { return "a shard header does not parse again" }
        return nil
    }

    package static func journalViolation(_ bytes: [UInt8]) -> String? {
        guard let (header, length) = try? JournalHeader.decode(bytes) else { return nil }
        if header.encoded() != Array(bytes[..<length]) { return "a journal header does not encode to its bytes" }
        return recordsViolation(bytes, from: length, header: header)
    }

    /// Records after `start`, with and without the bound of a segment's end (a short one, so inputs reach it).
    package static func recordsViolation(_ bytes: [UInt8], from start: Int, header: JournalHeader) -> String? {
        for segmentBytes in [nil, 64] as [Int?] {
            let (records, end) = JournalRecord.parseAll(bytes, from: start, header: header, segmentBytes: segmentBytes)
            guard start <= end && end <= bytes.count else { return "the valid prefix ends outside the input" }
            if records.flatMap({ $0.encoded(header: header) }) != Array(bytes[start..<end]) {
                return "journal records do not encode to their bytes"
            }
            var offset = header.segmentOffset
            for record in records {
                if record.streamOffset != offset { return "a record out of sequence was accepted" }
                offset += UInt64(record.ciphertext.count)
            }
            if let segmentBytes, offset - header.segmentOffset > UInt64(segmentBytes) {
                return "records beyond the end of their segment were accepted"
            }
        }
        return nil
    }

    package static func labelViolation(_ bytes: [UInt8]) -> String? {
        guard let identity = try? MemberIdentity(decoding: bytes) else { return nil }
        if identity.encoded() != bytes { return "a member label does not encode to its bytes" }
        if identity.index >= identity.geometry.memberCount { return "a member index outside its array" }
        if identity.geometry.segmentBytes <= 0 { return "a member label of segments without bytes was accepted" }
        return nil
    }

    /// The input as a file name in a stream directory: a segment index is only ever taken from the name the engine
    /// itself writes for it, and only when the segment's end is a u64 stream offset.
    package static func nameViolation(_ bytes: [UInt8]) -> String? {
        let name = String(decoding: bytes.prefix(64), as: UTF8.self)
        let segmentBytes = 1 << 20
        let found = MemberLayout.indices(in: [name], segmentBytes: segmentBytes)
        let layout = MemberLayout(root: "/")
        for segment in found.shards where layout.shard("s", segment: segment).lastComponent?.string != name {
            return "\(name) read as shard \(segment)"
        }
        for segment in found.journals where layout.journal("s", segment: segment).lastComponent?.string != name {
            return "\(name) read as journal \(segment)"
        }
        for segment in found.shards + found.journals
        where (segment + 1).multipliedReportingOverflow(by: UInt64(segmentBytes)).overflow {
            return "segment \(segment), whose end overflows, was accepted"
        }
        return nil
    }
}
