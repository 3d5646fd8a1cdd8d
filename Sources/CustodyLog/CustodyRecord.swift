import CryptoPrimitives

/// What a caller records in the custody log: an event's name and its fields. The log adds the sequence number, the
/// time and the chain (``CustodyRecord``).
public struct CustodyEvent: Sendable, Hashable {
    /// The event's name, such as `disk.inserted` or `adoption.refused`: 1 to 64 of `A-Z a-z 0-9 . _ -`.
    public var event: String
    /// The event's details (a disk's WWN, its bay, a reason): at most 32 fields, each name as an event's name, each
    /// value any text of at most 1024 UTF-8 bytes (newlines, quotes and control characters are escaped in the line).
    public var fields: [String: String]

    /// An event named `event` with `fields`.
    public init(_ event: String, _ fields: [String: String]) {
        self.event = event
        self.fields = fields
    }

    /// Why `event` cannot be recorded, or nil when it can.
    public static func problem(with event: CustodyEvent) -> String? { CustodyRecord.problem(with: event) }

    /// Whether `name` may name an event or a field.
    public static func isName(_ name: String) -> Bool { CustodyRecord.nameProblem(name) == nil }
}

/// One line of the custody log, as docs/custody-log.md defines it.
public struct CustodyRecord: Sendable, Hashable, Codable {
    /// The record's number: 1 for the log's first line, one more for each line after it.
    public var seq: UInt64
    /// When it was appended: RFC 3339 in UTC with milliseconds, `2026-12-05T23:58:50.123Z`.
    public var time: String
    /// The event's name.
    public var event: String
    /// The event's fields.
    public var fields: [String: String]
    /// The hex SHA-256 of the previous line's bytes (without its newline); 64 zeros on the first line.
    public var prev: String
    /// The hex SHA-256 of this record's canonical form without `hash` (``unhashedLine``).
    public var hash: String

    /// The `prev` of the log's first record.
    public static let firstPrevious = String(repeating: "0", count: 64)

    /// Makes the record that follows `prev`, computing its hash.
    init(seq: UInt64, time: String, event: CustodyEvent, prev: String) {
        self.seq = seq
        self.time = time
        self.event = event.event
        self.fields = event.fields
        self.prev = prev
        self.hash = ""
        self.hash = Self.hex(SHA256.hash(unhashedLine))
    }

    /// The canonical JSON (RFC 8785) of the record without its `hash` member, in UTF-8: what `hash` is computed over.
    public var unhashedLine: [UInt8] { canonical(includingHash: false) }

    /// The canonical JSON (RFC 8785) of the whole record, in UTF-8, without a newline: the line as the log stores it,
    /// and what the next record's `prev` is computed over.
    public var line: [UInt8] { canonical(includingHash: true) }

    /// Members in RFC 8785's order (by UTF-16 code units, which for these ASCII names is alphabetical).
    private func canonical(includingHash: Bool) -> [UInt8] {
        var json = CanonicalJSON()
        json.beginObject()
        json.member("event") { $0.string(event) }
        json.member("fields") { $0.object(fields) }
        if includingHash { json.member("hash") { $0.string(hash) } }
        json.member("prev") { $0.string(prev) }
        json.member("seq") { $0.integer(seq) }
        json.member("time") { $0.string(time) }
        json.endObject()
        return json.bytes
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
