import HashChain
import StreamStore

/// The text form of a receipt: what `saatkond send --receipt` writes and `saatkond verify` reads.
///
///     saatkond-receipt-v2
///     stream: ee.population.wal
///     length: 1048576
///     head: <64 lower-case hexadecimal digits>
///     time-ms: 1790000000000
///     appliance: saatkond-dev
///     key: p256:<16 lower-case hexadecimal digits>
///     signature: <128 lower-case hexadecimal digits: ECDSA P-256, r || s>
///
/// Each line ends with a line feed (the last one may be missing). The form is canonical: a text that parses is
/// exactly the ``Receipt/text`` of what it parses to, so no two texts mean the same receipt. A verifier reads it
/// from outside, so the parser trusts nothing: it bounds the size, checks every field, and says on which line what
/// is wrong.
extension Receipt {
    /// The first line of the text form.
    public static let textFirstLine = "saatkond-receipt-v2"

    /// The first line of the receipts that were signed with Ed25519 and named no key, which are refused by name.
    private static let version1FirstLine = "saatkond-receipt-v1"

    /// The longest text a receipt can have (a 200-byte stream name, a 1024-byte appliance name and a 64-byte key with
    /// the rest), rounded up; anything longer is refused before it is looked at.
    public static let maximumTextBytes = 4096

    /// The longest appliance name the text form carries, in bytes.
    public static let maximumApplianceBytes = 1024

    private static let fieldNames = ["stream", "length", "head", "time-ms", "appliance", "key", "signature"]

    /// The receipt in text form.
    public var text: String {
        """
        \(Self.textFirstLine)
        stream: \(stream)
        length: \(durableLength)
        head: \(head)
        time-ms: \(millisecondsSince1970)
        appliance: \(appliance)
        key: \(keyID)
        signature: \(Hex.encode(signature))

        """
    }

    /// Parses a receipt's text form, as read from a file; throws ``ReceiptTextError`` saying where and what is wrong.
    /// Parsing checks the form only: whether the appliance signed it is ``signedContent`` and the signature's to say.
    public init(text bytes: [UInt8]) throws(ReceiptTextError) {
        guard bytes.count <= Self.maximumTextBytes else {
            throw ReceiptTextError(
                line: nil, "it is \(bytes.count) bytes long, more than any receipt (\(Self.maximumTextBytes))")
        }
        guard !bytes.isEmpty else { throw ReceiptTextError(line: nil, "it is empty") }
        var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if bytes.last == UInt8(ascii: "\n") { lines.removeLast() }
        if lines[0].elementsEqual(Self.version1FirstLine.utf8) {
            throw ReceiptTextError(
                line: 1,
                "a version 1 receipt, signed with Ed25519, is no longer accepted: receipts are signed with ECDSA P-256 "
                    + "now and name their key; ask the appliance for a new one (saatkond send --receipt)")
        }
        guard lines[0].elementsEqual(Self.textFirstLine.utf8) else {
            let expected = "expected \(Self.textFirstLine) (a receipt written by saatkond send --receipt)"
            throw ReceiptTextError(line: 1, "\(expected), found \(ReceiptTextError.quote(lines[0]))")
        }
        var values: [String] = []
        for (index, name) in Self.fieldNames.enumerated() {
            let number = index + 2
            guard number <= lines.count else {
                throw ReceiptTextError(line: number, "the receipt ends here; expected the field \"\(name): \"")
            }
            values.append(try Self.field(name, lines[number - 1], number))
        }
        guard lines.count == Self.fieldNames.count + 1 else {
            throw ReceiptTextError(line: Self.fieldNames.count + 2, "unexpected text after the signature")
        }
        let stream: String
        do {
            stream = try StreamName(values[0]).rawValue
        } catch {
            throw ReceiptTextError(line: 2, "\(error)")  // It names the stream, escaped, and the rule.
        }
        let length = try Self.decimal(values[1], what: "length", line: 3)
        guard let headBytes = Hex.decode(values[2]), let head = ChainHead(headBytes) else {
            let found = ReceiptTextError.quote(values[2].utf8)
            throw ReceiptTextError(line: 4, "the head must be 64 lower-case hexadecimal digits, found \(found)")
        }
        let time = try Self.decimal(values[3], what: "time", line: 5)
        let appliance = values[4]
        guard appliance.utf8.count <= Self.maximumApplianceBytes else {
            throw ReceiptTextError(line: 6, "the appliance name is longer than \(Self.maximumApplianceBytes) bytes")
        }
        if let scalar = appliance.unicodeScalars.first(where: { !Self.isPrintable($0) }) {
            let code = String(scalar.value, radix: 16, uppercase: true)
            throw ReceiptTextError(line: 6, "the appliance name holds the unprintable character U+\(code)")
        }
        guard Self.isValidKeyID(values[5]) else {
            throw ReceiptTextError(
                line: 7,
                "the key must be 1 to \(Self.maximumKeyIDBytes) characters of a-z, 0-9, \":\", \".\", \"_\" and \"-\", "
                    + "found \(ReceiptTextError.quote(values[5].utf8))")
        }
        guard let signature = Hex.decode(values[6]), signature.count == Self.signatureByteCount else {
            let found = ReceiptTextError.quote(values[6].utf8)
            throw ReceiptTextError(line: 8, "the signature must be 128 lower-case hexadecimal digits, found \(found)")
        }
        self.init(
            stream: stream, durableLength: length, head: head, millisecondsSince1970: time, appliance: appliance,
            keyID: values[5], signature: signature)
    }

    /// The value after `name: ` on a line, which must be non-empty UTF-8 without a carriage return.
    private static func field(
        _ name: String, _ line: ArraySlice<UInt8>, _ number: Int
    ) throws(ReceiptTextError) -> String {
        let prefix = Array("\(name): ".utf8)
        guard line.starts(with: prefix) else {
            throw ReceiptTextError(
                line: number, "expected the field \"\(name): \", found \(ReceiptTextError.quote(line))")
        }
        guard line.last != UInt8(ascii: "\r") else {
            throw ReceiptTextError(line: number, "the line ends with a carriage return; a receipt's lines end with LF")
        }
        let valueBytes = line.dropFirst(prefix.count)
        guard !valueBytes.isEmpty else { throw ReceiptTextError(line: number, "the field \"\(name)\" is empty") }
        guard let value = String(validating: valueBytes, as: UTF8.self) else {
            throw ReceiptTextError(line: number, "the field \"\(name)\" is not UTF-8 text")
        }
        return value
    }

    /// A u64 in canonical decimal: digits only, no sign, no leading zero.
    private static func decimal(_ text: String, what: String, line: Int) throws(ReceiptTextError) -> UInt64 {
        let digits = text.utf8
        guard digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            digits.count == 1 || digits.first != UInt8(ascii: "0"), let value = UInt64(text)
        else {
            throw ReceiptTextError(
                line: line,
                "the \(what) must be a decimal number from 0 to \(UInt64.max) without leading zeros, found "
                    + ReceiptTextError.quote(text.utf8))
        }
        return value
    }

    /// Whether a character may appear in an appliance name: no control, format (bidirectional overrides, zero-width
    /// characters), private-use, unassigned or line-separating characters, which could disguise a name on a screen.
    private static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator: false
        default: true
        }
    }
}

/// Why a text is not a receipt, with the line where the problem is.
public struct ReceiptTextError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The line (from 1) where the problem is, when it is on one line.
    public let line: Int?
    /// What is wrong, in a sentence.
    public let reason: String

    init(line: Int?, _ reason: String) {
        self.line = line
        self.reason = reason
    }

    /// `line N: reason`, or the reason alone.
    public var description: String { line.map { "line \($0): \(reason)" } ?? reason }

    /// Hostile bytes, shown safely: at most 80 bytes, quoted, with control characters escaped.
    static func quote(_ bytes: some Collection<UInt8>) -> String {
        let shown = String(decoding: bytes.prefix(80), as: UTF8.self)
        return shown.debugDescription + (bytes.count > 80 ? "…" : "")
    }
}
