/// The name a sender gives a stream, such as `ee.population.wal`.
///
/// Names become file names on the members, so the character set is deliberately small: ASCII letters, digits, `.`,
/// `-` and `_`, 1 to 200 bytes, starting and ending with a letter or digit, with no two dots in a row. That rules
/// out path separators, `..`, hidden files and Unicode look-alikes by construction rather than by escaping.
/// Upper case is allowed because PostgreSQL's WAL file names (`00000001000000000000000A`) keep their own names as
/// streams; names are case-sensitive (`ee.A` and `ee.a` are two streams), as the members' filesystems are: the disks
/// service formats them as XFS without its ASCII case-insensitive option.
public struct StreamName: Hashable, Sendable, CustomStringConvertible {
    /// The longest name accepted, in bytes.
    public static let maximumLength = 200

    /// The validated name.
    public let rawValue: String

    /// Validates `rawValue`; throws ``StreamNameError`` saying which rule it breaks.
    public init(_ rawValue: String) throws(StreamNameError) {
        let bytes = Array(rawValue.utf8)
        guard !bytes.isEmpty else { throw .empty }
        guard bytes.count <= Self.maximumLength else { throw .tooLong(bytes.count) }
        for (index, byte) in bytes.enumerated() {
            guard Self.isAllowed(byte) else { throw .forbiddenCharacter(rawValue, position: index) }
        }
        guard Self.isAlphanumeric(bytes.first!), Self.isAlphanumeric(bytes.last!) else {
            throw .badEdge(rawValue)
        }
        for index in bytes.indices.dropFirst() where bytes[index] == UInt8(ascii: ".") {
            if bytes[index - 1] == UInt8(ascii: ".") { throw .consecutiveDots(rawValue) }
        }
        self.rawValue = rawValue
    }

    /// The name as given.
    public var description: String { rawValue }

    /// An ASCII letter (either case) or digit.
    package static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    /// A byte a stream name may contain anywhere.
    public static func isAllowed(_ byte: UInt8) -> Bool {
        isAlphanumeric(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
    }
}

/// Why a stream name was refused.
public struct StreamNameError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Code: Hashable, Sendable {
        case empty
        case tooLong(Int)
        case forbiddenCharacter(String, Int)
        case badEdge(String)
        case consecutiveDots(String)
    }

    private let code: Code

    static let empty = StreamNameError(code: .empty)
    static func tooLong(_ length: Int) -> Self { Self(code: .tooLong(length)) }
    static func forbiddenCharacter(_ name: String, position: Int) -> Self {
        Self(code: .forbiddenCharacter(name, position))
    }
    static func badEdge(_ name: String) -> Self { Self(code: .badEdge(name)) }
    static func consecutiveDots(_ name: String) -> Self { Self(code: .consecutiveDots(name)) }

    private static let rule =
        "a stream name uses only A-Z, a-z, 0-9, '.', '-' and '_', starts and ends with a letter or digit, "
        + "has no '..', and is at most \(StreamName.maximumLength) bytes"

    /// What is wrong with the name and which rule it breaks.
    public var description: String {
        switch code {
        case .empty:
            return "the stream name is empty: \(Self.rule)"
        case .tooLong(let length):
            return "the stream name is \(length) bytes long: \(Self.rule)"
        case .forbiddenCharacter(let name, let position):
            return
                "the stream name \(name.debugDescription) has a forbidden character at byte \(position): \(Self.rule)"
        case .badEdge(let name):
            return
                "the stream name \(name.debugDescription) does not start and end with a letter or digit: \(Self.rule)"
        case .consecutiveDots(let name):
            return "the stream name \(name.debugDescription) contains '..': \(Self.rule)"
        }
    }
}
