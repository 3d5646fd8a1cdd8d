/// A stream's hash-chain head (`docs/hash-chain.md`): 32 bytes. The one type of a head, which the store, the
/// replication protocol and the clients share.
public struct ChainHead: Hashable, Sendable, CustomStringConvertible {
    /// The head of an empty stream.
    public static let empty = ChainHead(unchecked: [UInt8](repeating: 0, count: 32))

    /// The digest.
    public let bytes: [UInt8]

    /// Wraps a digest; nil unless it is 32 bytes.
    public init?(_ bytes: [UInt8]) {
        guard bytes.count == 32 else { return nil }
        self.bytes = bytes
    }

    /// A digest this module computed, known to be 32 bytes.
    init(unchecked bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// The digest in hexadecimal.
    public var description: String { Hex.encode(bytes) }
}

/// Lower-case hexadecimal, the one spelling receipts, heads and keys use in text.
public enum Hex {
    /// The bytes as two lower-case hexadecimal digits each.
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    /// The bytes of an even number of lower-case hexadecimal digits; nil for anything else.
    public static func decode(_ text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = value(of: digits[index]), let low = value(of: digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func value(of digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        default: nil
        }
    }
}

extension ChainHead {
    /// A head from its 64 lower-case hexadecimal digits (its ``description``); nil for anything else.
    public init?(hex: String) {
        guard let bytes = Hex.decode(hex) else { return nil }
        self.init(bytes)
    }
}
