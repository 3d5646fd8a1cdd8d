import CryptoPrimitives
import Foundation

/// Checks the lines of a custody log one after another, as they are read: each line on its own (canonical, valid,
/// its hash right) and against the line before it (the next `seq`, `prev` the hash of that line's bytes). Holds only
/// the previous line's hash, so a log of any length is checked in the memory of one line.
struct ChainVerifier {
    /// Whether the first line must be the log's first record (seq 1, prev all zeros), or may be any (an excerpt).
    private let fromStart: Bool
    /// The number of lines checked so far.
    private(set) var lineNumber = 0
    private var previous: (seq: UInt64, lineHash: String)?

    init(fromStart: Bool) {
        self.fromStart = fromStart
    }

    /// A verifier that goes on after a line already checked: record `seq`, whose line's hex SHA-256 is `lineHash`.
    init(continuingAfter seq: UInt64, lineHash: String) {
        fromStart = false
        previous = (seq, lineHash)
    }

    /// The hex SHA-256 of the last line accepted, which the next record's `prev` must be.
    var previousLineHash: String? { previous?.lineHash }

    /// Checks the next line (its bytes without the newline) and returns its record.
    mutating func accept(_ line: ArraySlice<UInt8>) throws(CustodyLogError) -> CustodyRecord {
        lineNumber += 1
        let record = try Self.record(from: line, lineNumber: lineNumber)
        if let previous {
            guard previous.seq < UInt64.max, record.seq == previous.seq + 1 else {
                throw CustodyLogError(
                    .outOfSequence, line: lineNumber,
                    "seq is \(record.seq) after \(previous.seq): a line was removed, added or moved before this one")
            }
            guard record.prev == previous.lineHash else {
                throw CustodyLogError(
                    .brokenChain, line: lineNumber, "prev is not the hash of the line before: that line was replaced")
            }
        } else if fromStart || record.seq == 1 {
            guard record.seq == 1 else {
                throw CustodyLogError(
                    .outOfSequence, line: lineNumber, "the log starts at seq \(record.seq), not 1: its start is missing"
                )
            }
            guard record.prev == CustodyRecord.firstPrevious else {
                throw CustodyLogError(.brokenChain, line: lineNumber, "the first record's prev is not 64 zeros")
            }
        }
        previous = (record.seq, CustodyRecord.hex(SHA256.hash(line)))
        return record
    }

    /// Parses one line into a record and checks it alone: canonical, within the rules, its hash right.
    static func record(from line: ArraySlice<UInt8>, lineNumber: Int) throws(CustodyLogError) -> CustodyRecord {
        guard line.count <= CustodyRecord.maximumLineBytes else {
            throw CustodyLogError(
                .lineTooLong, line: lineNumber,
                "\(line.count) bytes, more than a record's \(CustodyRecord.maximumLineBytes)")
        }
        let decoded: CustodyRecord?
        do {
            decoded = try JSONDecoder().decode(CustodyRecord.self, from: Data(line))
        } catch {
            decoded = nil
        }
        guard let record = decoded else {
            throw CustodyLogError(.malformedLine, line: lineNumber, "not a JSON object with a record's members")
        }
        guard record.line.elementsEqual(line) else {
            throw CustodyLogError(
                .notCanonical, line: lineNumber,
                "not in canonical form (RFC 8785: sorted members, no spaces, minimal escapes, no other members)")
        }
        if let problem = record.problem {
            throw CustodyLogError(.invalidRecord, line: lineNumber, problem)
        }
        guard record.hash == CustodyRecord.hex(SHA256.hash(record.unhashedLine)) else {
            throw CustodyLogError(
                .hashMismatch, line: lineNumber, "its hash does not match its contents: the line was altered")
        }
        return record
    }
}

extension CustodyLog {
    /// Verifies a whole custody log from its first line: every line canonical and within the rules, every hash
    /// right, seq 1, 2, 3…, each `prev` the hash of the line before, the first one 64 zeros, and a newline after the
    /// last line. Returns the records, or throws the first break with its line.
    public static func verify(_ contents: [UInt8]) throws(CustodyLogError) -> [CustodyRecord] {
        var verifier = ChainVerifier(fromStart: true)
        return try records(of: contents, with: &verifier)
    }

    /// Verifies a contiguous excerpt of a custody log (any run of whole lines, each with its newline) whose last
    /// record's hash is `head`, such as the head an attestation signed: the lines are checked as ``verify(_:)`` checks
    /// them, except that the first may start anywhere in the log (if its seq is 1, it must be the log's first).
    public static func verify(excerpt: [UInt8], endingAt head: String) throws(CustodyLogError) -> [CustodyRecord] {
        var verifier = ChainVerifier(fromStart: false)
        let records = try records(of: excerpt, with: &verifier)
        guard let last = records.last else {
            throw CustodyLogError(.headMismatch, "the excerpt has no line, so it cannot end at the head \(head)")
        }
        guard last.hash == head else {
            throw CustodyLogError(
                .headMismatch, line: records.count,
                "the last record's hash is \(last.hash), not the head \(CustodyRecord.quoted(head)): "
                    + "the excerpt was cut short, or is of another log")
        }
        return records
    }

    private static func records(
        of contents: [UInt8], with verifier: inout ChainVerifier
    ) throws(CustodyLogError) -> [CustodyRecord] {
        var records: [CustodyRecord] = []
        var start = 0
        while start < contents.count {
            guard let end = contents[start...].firstIndex(of: UInt8(ascii: "\n")) else {
                throw CustodyLogError(
                    .incompleteLine, line: verifier.lineNumber + 1,
                    "the bytes end inside this line (no newline after it): it was cut short")
            }
            records.append(try verifier.accept(contents[start..<end]))
            start = end + 1
        }
        return records
    }
}
