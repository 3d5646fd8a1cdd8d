/// The limits and shapes a record must keep, checked on append and again on every line verified, so that a line
/// stays short enough to be read back whole (at most ``maximumLineBytes``) and its names are safe to show anywhere.
extension CustodyRecord {
    /// The most fields an event has.
    public static let maximumFields = 32
    /// The most UTF-8 bytes a field's value has.
    public static let maximumValueBytes = 1024
    /// The most bytes a line has: 32 fields of 64-byte names and 1024-byte values, each byte escaped as `\u00xx`.
    public static let maximumLineBytes = 256 * 1024

    /// Why `name` is not an event's or a field's name, or nil when it is one.
    static func nameProblem(_ name: String) -> String? {
        let bytes = Array(name.utf8)
        guard (1...64).contains(bytes.count) else { return "has \(bytes.count) bytes, not 1 to 64" }
        let allowed = bytes.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                true
            default: false
            }
        }
        return allowed ? nil : "has a character other than A-Z a-z 0-9 . _ -"
    }

    /// Why `event` cannot be recorded, or nil when it can.
    static func problem(with event: CustodyEvent) -> String? {
        if let problem = nameProblem(event.event) { return "the event's name \(quoted(event.event)) \(problem)" }
        guard event.fields.count <= maximumFields else {
            return "the event has \(event.fields.count) fields, more than \(maximumFields)"
        }
        for (name, value) in event.fields {
            if let problem = nameProblem(name) { return "the field name \(quoted(name)) \(problem)" }
            if value.utf8.count > maximumValueBytes {
                return "the field \(name) has \(value.utf8.count) bytes, more than \(maximumValueBytes)"
            }
        }
        return nil
    }

    /// Why this record is not one the log could have written, or nil.
    var problem: String? {
        if let problem = Self.problem(with: CustodyEvent(event, fields)) { return problem }
        guard seq >= 1 else { return "seq is 0; the first record is 1" }
        guard Self.isTime(time) else { return "time \(Self.quoted(time)) is not YYYY-MM-DDTHH:MM:SS.sssZ" }
        guard Self.isDigest(prev) else { return "prev is not 64 lowercase hex digits" }
        guard Self.isDigest(hash) else { return "hash is not 64 lowercase hex digits" }
        return nil
    }

    static func isDigest(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return bytes.count == 64
            && bytes.allSatisfy {
                (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
                    || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0)
            }
    }

    /// Whether `text` has the shape the log writes times in: `2026-12-05T23:58:50.123Z`.
    static func isTime(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 24 else { return false }
        let separators: [Int: UInt8] = [
            4: UInt8(ascii: "-"), 7: UInt8(ascii: "-"), 10: UInt8(ascii: "T"), 13: UInt8(ascii: ":"),
            16: UInt8(ascii: ":"), 19: UInt8(ascii: "."), 23: UInt8(ascii: "Z"),
        ]
        for (index, byte) in bytes.enumerated() {
            if let separator = separators[index] {
                if byte != separator { return false }
            } else if !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
                return false
            }
        }
        return true
    }

    /// A name as an error message shows it: escaped and cut, since it may be anything a caller or a file held.
    static func quoted(_ text: String) -> String {
        let shown = text.count > 80 ? String(text.prefix(80)) + "…" : text
        return shown.debugDescription
    }
}
