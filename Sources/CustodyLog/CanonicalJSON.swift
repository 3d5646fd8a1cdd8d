/// A writer of JSON in the canonical form of RFC 8785 (JCS), for the few shapes a custody record has: objects whose
/// members are sorted by the UTF-16 code units of their names, strings, and non-negative integers. Strings are written
/// as ECMAScript's JSON.stringify writes them: `"` and `\` escaped, the control characters below U+0020 as `\b`, `\t`,
/// `\n`, `\f`, `\r` or `\u00xx` (lowercase hex), everything else (`/`, DEL, any non-ASCII) as its own UTF-8 bytes.
struct CanonicalJSON {
    private(set) var bytes: [UInt8] = []
    private var needsComma = false

    mutating func beginObject() {
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
    }

    mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    /// Writes `"name":` and then the value `body` writes; the caller passes members in canonical order.
    mutating func member(_ name: String, _ body: (inout CanonicalJSON) -> Void) {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
        string(name)
        bytes.append(UInt8(ascii: ":"))
        body(&self)
        needsComma = true
    }

    /// An object of string members, sorted here.
    mutating func object(_ members: [String: String]) {
        beginObject()
        for name in members.keys.sorted(by: Self.canonicalOrder) {
            member(name) { $0.string(members[name]!) }
        }
        endObject()
    }

    mutating func integer(_ value: UInt64) {
        bytes.append(contentsOf: String(value).utf8)
    }

    mutating func string(_ value: String) {
        let hexDigits = Array("0123456789abcdef".utf8)
        bytes.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x08: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0x0a: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0c: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case 0x0d: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x00..<0x20:
                bytes.append(contentsOf: Array("\\u00".utf8))
                bytes.append(hexDigits[Int(byte >> 4)])
                bytes.append(hexDigits[Int(byte & 0x0f)])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// RFC 8785's order of member names: by their UTF-16 code units.
    static func canonicalOrder(_ first: String, _ second: String) -> Bool {
        first.utf16.lexicographicallyPrecedes(second.utf16)
    }
}
