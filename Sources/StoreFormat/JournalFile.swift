import CryptoPrimitives
import ErasureCode

/// The tail journal of a stream's open segment: acknowledged bytes not yet folded into an erasure-coded segment,
/// mirrored on m + 1 members so that they survive the loss of any m.
///
/// A journal file is a header, then records appended one after another, each with its CRC32C. A crash can tear
/// only the last record; parsing stops at the first record that is incomplete or fails its checksum. Records are
/// encrypted with a key derived from the journal key and the file's random salt; the nonce is the record's index.
///
/// The salt is the file's own key: without it the journal key opens none of the file's records. So a retired journal
/// has its header wiped (``JournalPool``), and what a spare on a pulled disk still holds is ciphertext that nobody,
/// not even the holder of the journal key, can open.
///
/// A record's checksum starts from the checksum of its file's salt (format 2), so it holds only in the file it was
/// written for: journal files are reused (``JournalPool``), and what a reused file held before, behind the records
/// written since, fails its checksum whatever stream or segment it came from.
package struct JournalHeader: Hashable {
    private static let magic = Array("SKJRNL02".utf8)
    package static let formatOneMagic = Array("SKJRNL01".utf8)

    package var arrayID: [UInt8]
    package var stream: String
    package var segment: UInt64
    package var segmentOffset: UInt64
    package var salt: [UInt8]

    package init(arrayID: [UInt8], stream: String, segment: UInt64, segmentOffset: UInt64, salt: [UInt8]) {
        self.arrayID = arrayID
        self.stream = stream
        self.segment = segment
        self.segmentOffset = segmentOffset
        self.salt = salt
    }

    private var fields: [UInt8] {
        var writer = ByteWriter()
        writer.write(Self.magic)
        writer.write(arrayID)
        writer.write(stream)
        writer.write(segment)
        writer.write(segmentOffset)
        writer.write(salt)
        return writer.bytes
    }

    package func encoded() -> [UInt8] {
        var bytes = fields
        var writer = ByteWriter()
        writer.write(CRC32C.checksum(bytes))
        bytes += writer.bytes
        return bytes
    }

    package static func decode(_ bytes: [UInt8]) throws(FormatError) -> (JournalHeader, Int) {
        var reader = ByteReader(bytes)
        guard try reader.read(count: 8) == magic else { throw FormatError("not a Saatkond journal") }
        let header = JournalHeader(
            arrayID: try reader.read(count: 16), stream: try reader.readString(), segment: try reader.read(),
            segmentOffset: try reader.read(), salt: try reader.read(count: 32))
        let length = reader.position
        guard try reader.read(UInt32.self) == CRC32C.checksum(Array(bytes[..<length])) else {
            throw FormatError("the journal header is damaged")
        }
        return (header, reader.position)
    }

    /// The longest a journal file of a segment of `segmentBytes` can legitimately be: the longest header, and the
    /// segment's bytes in records of one byte each (a record is 36 bytes of framing around its ciphertext). A
    /// reused file holds what its earlier journal left behind the records, but never more than that.
    package static func fileLimit(segmentBytes: Int) -> Int {
        maximumBytes + segmentBytes * (1 + JournalRecord.framingBytes)
    }

    /// The longest header: the longest stream name a u16 can give.
    package static let maximumBytes = encodedCount(nameBytes: Int(UInt16.max))

    /// The bytes of the header of a journal whose stream name has `nameBytes` bytes: what ``JournalPool`` wipes when
    /// it retires the journal.
    package static func encodedCount(nameBytes: Int) -> Int { 8 + 16 + 2 + nameBytes + 8 + 8 + 32 + 4 }

    /// The record key of this journal file.
    package func recordKey(journalKey: SecretBytes) throws -> SecretBytes {
        try HKDFSHA256.deriveKey(
            ikm: journalKey, salt: salt, info: Array("saatkond journal v1".utf8) + fields, length: 32)
    }

    /// Where every record checksum of this file starts.
    package var recordChecksumSeed: UInt32 { CRC32C.checksum(salt) }

    package func recordAdditionalData(offset: UInt64, length: Int) -> [UInt8] {
        var writer = ByteWriter()
        writer.write(fields)
        writer.write(offset)
        writer.write(UInt32(length))
        return writer.bytes
    }
}

/// One record of a journal, as stored: ciphertext and tag.
package struct JournalRecord: Hashable {
    private static let magic: UInt32 = 0x534B_5243  // "SKRC"
    /// Magic, length, stream offset, tag and CRC32C around a record's ciphertext.
    package static let framingBytes = 4 + 4 + 8 + 16 + 4

    package var streamOffset: UInt64
    package var ciphertext: [UInt8]
    package var tag: [UInt8]

    package init(streamOffset: UInt64, ciphertext: [UInt8], tag: [UInt8]) {
        self.streamOffset = streamOffset
        self.ciphertext = ciphertext
        self.tag = tag
    }

    package static func seal(
        _ plaintext: UnsafeRawBufferPointer, at offset: UInt64, index: UInt64, header: JournalHeader,
        key: SecretBytes
    ) throws -> [UInt8] {
        // One allocation for the whole record, encrypted in place: a record can hold most of a segment.
        var record: [UInt8] = []
        record.reserveCapacity(16 + plaintext.count + 16 + 4)
        withUnsafeBytes(of: magic.bigEndian) { record.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt32(plaintext.count).bigEndian) { record.append(contentsOf: $0) }
        withUnsafeBytes(of: offset.bigEndian) { record.append(contentsOf: $0) }
        let start = record.count
        record.append(contentsOf: repeatElement(0, count: plaintext.count))
        let tag = try record.withUnsafeMutableBytes { output in
            try AES256GCM.seal(
                key: key, nonce: nonce(index), plaintext: plaintext,
                into: UnsafeMutableRawBufferPointer(rebasing: output[start...]),
                additionalData: header.recordAdditionalData(offset: offset, length: plaintext.count))
        }
        record += tag
        withUnsafeBytes(of: CRC32C.checksum(record, continuing: header.recordChecksumSeed).bigEndian) {
            record.append(contentsOf: $0)
        }
        return record
    }

    package func open(index: UInt64, header: JournalHeader, key: SecretBytes) throws -> [UInt8] {
        try AES256GCM.open(
            key: key, nonce: Self.nonce(index), ciphertext: ciphertext, tag: tag,
            additionalData: header.recordAdditionalData(offset: streamOffset, length: ciphertext.count))
    }

    private static func nonce(_ index: UInt64) -> [UInt8] {
        var writer = ByteWriter()
        writer.write(UInt32(0))
        writer.write(index)
        return writer.bytes
    }

    /// The record's bytes in its file.
    package var encodedBytes: Int { Self.framingBytes + ciphertext.count }

    /// The record as stored in a file of `header`: what ``seal(_:at:index:header:key:)`` returned.
    package func encoded(header: JournalHeader) -> [UInt8] {
        var writer = ByteWriter(capacity: encodedBytes)
        writer.write(Self.magic)
        writer.write(UInt32(ciphertext.count))
        writer.write(streamOffset)
        writer.write(ciphertext)
        writer.write(tag)
        var record = writer.bytes
        withUnsafeBytes(of: CRC32C.checksum(record, continuing: header.recordChecksumSeed).bigEndian) {
            record.append(contentsOf: $0)
        }
        return record
    }

    /// Parses the records after the header, stopping at the first torn or damaged one, and at one that would end
    /// beyond the segment (`segmentBytes` from its start; nil: no such bound).
    /// Returns the records and the byte length of the valid prefix of the file.
    package static func parseAll(
        _ bytes: [UInt8], from start: Int, header: JournalHeader, segmentBytes: Int? = nil
    ) -> ([JournalRecord], Int) {
        var records: [JournalRecord] = []
        var position = start
        var expectedOffset = header.segmentOffset
        let (segmentEnd, overflow) = header.segmentOffset.addingReportingOverflow(UInt64(segmentBytes ?? 0))
        let end = segmentBytes == nil || overflow ? UInt64.max : segmentEnd
        let seed = header.recordChecksumSeed
        while true {
            var reader = ByteReader(bytes, at: position)
            guard let magic = try? reader.read(UInt32.self), magic == Self.magic,
                let length = try? reader.read(UInt32.self), let offset = try? reader.read(UInt64.self),
                offset == expectedOffset, end - offset >= UInt64(length),
                let ciphertext = try? reader.read(count: Int(length)), let tag = try? reader.read(count: 16)
            else { break }
            let recordEnd = reader.position
            guard let checksum = try? reader.read(UInt32.self),
                checksum
                    == bytes.withUnsafeBytes({
                        CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[position..<recordEnd]), continuing: seed)
                    })
            else { break }
            records.append(JournalRecord(streamOffset: offset, ciphertext: ciphertext, tag: tag))
            expectedOffset += UInt64(length)
            position = reader.position
        }
        return (records, position)
    }
}
