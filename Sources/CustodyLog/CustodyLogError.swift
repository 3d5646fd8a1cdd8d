import SystemPackage

/// Why the custody log could not be read, verified or appended to. The description says what happened, on which line
/// (1-based, counted in the bytes verified), and what to do.
public struct CustodyLogError: Error, CustomStringConvertible, Hashable, Sendable {
    /// What kind of failure it is; errors compare by code and line.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// A line is longer than any record can be.
        public static let lineTooLong = Code("lineTooLong")
        /// A line is not a JSON object of a record's members.
        public static let malformedLine = Code("malformedLine")
        /// A line is a record, but not in its canonical form (member order, spacing, escapes, extra members).
        public static let notCanonical = Code("notCanonical")
        /// A record's contents break a rule (an event's name, a field, the time's shape, a hex digest).
        public static let invalidRecord = Code("invalidRecord")
        /// A record's `hash` is not the hash of its contents: the line was altered.
        public static let hashMismatch = Code("hashMismatch")
        /// A record's `seq` does not follow the previous line's: a line was removed, added or moved.
        public static let outOfSequence = Code("outOfSequence")
        /// A record's `prev` is not the hash of the previous line: a line was replaced.
        public static let brokenChain = Code("brokenChain")
        /// The bytes end inside a line (no newline after the last one).
        public static let incompleteLine = Code("incompleteLine")
        /// An excerpt has no line, or its last record's hash is not the expected head.
        public static let headMismatch = Code("headMismatch")
        /// An event cannot be appended as given (its name or fields break the rules).
        public static let invalidEvent = Code("invalidEvent")
        /// An earlier append failed part way; the log takes no more appends until it is reopened.
        public static let appendsRefused = Code("appendsRefused")
        /// Another process holds the log open for appending.
        public static let inUse = Code("inUse")
        /// The file system refused a call.
        public static let fileSystem = Code("fileSystem")
    }

    /// What kind of failure it is.
    public let code: Code
    /// The line it concerns, 1-based, when it concerns one.
    public let line: Int?
    /// What happened, on which line, and what to do.
    public let description: String

    init(_ code: Code, line: Int? = nil, _ message: String) {
        self.code = code
        self.line = line
        self.description = line.map { "custody log line \($0): \(message)" } ?? "custody log: \(message)"
    }

    static func fileSystem(_ error: Errno, _ doing: String, _ path: FilePath) -> CustodyLogError {
        CustodyLogError(.fileSystem, "cannot \(doing) \(path): \(error)")
    }

    public static func == (lhs: CustodyLogError, rhs: CustodyLogError) -> Bool {
        lhs.code == rhs.code && lhs.line == rhs.line
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
        hasher.combine(line)
    }
}
