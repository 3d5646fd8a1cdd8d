/// Who may do what to which streams: the identities in senders' certificates, mapped to stream-name prefixes.
///
/// Appending and reading are separate permissions, so a sender at home that is compromised can neither read the
/// registries nor touch streams outside its prefixes. Parsed from a file (see ``init(parsing:file:)``).
public struct AuthorizationPolicy: Sendable, Hashable {
    /// What a permission allows.
    public enum Operation: String, Sendable, Hashable, CaseIterable {
        /// Append to a stream.
        case append
        /// Read a stream back.
        case read
    }

    /// One grant: an identity may perform an operation on streams whose names start with one of the prefixes.
    public struct Grant: Sendable, Hashable {
        /// The certificate subject's common name.
        public var identity: String
        /// The operation.
        public var operation: Operation
        /// Stream-name prefixes; `*` matches every stream.
        public var prefixes: [String]
    }

    /// The grants, in file order.
    public let grants: [Grant]

    /// A policy of `grants`.
    public init(grants: [Grant]) {
        self.grants = grants
    }

    /// Whether `identity` may perform `operation` on `stream`.
    public func allows(_ identity: String, _ operation: Operation, stream: String) -> Bool {
        grants.contains { grant in
            grant.identity == identity && grant.operation == operation
                && grant.prefixes.contains { $0 == "*" || stream.hasPrefix($0) }
        }
    }

    /// Parses the policy file format:
    ///
    ///     # comment
    ///     <identity> append|read <prefix> [<prefix> …]
    ///
    /// One grant per line; the identity is the certificate subject's common name (no spaces); a prefix uses the
    /// characters of stream names, or is `*` for every stream. A mistake is reported with the file and line.
    public init(parsing text: String, file: String) throws(PolicyError) {
        var grants: [Grant] = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
            guard !words.isEmpty else { continue }
            let location = "\(file):\(index + 1)"
            guard words.count >= 3 else {
                throw PolicyError(
                    "\(location): expected `<identity> append|read <prefix>…`, found \(words.count) words")
            }
            guard let operation = Operation(rawValue: words[1]) else {
                throw PolicyError("\(location): unknown operation '\(words[1])' (expected append or read)")
            }
            for prefix in words[2...] where prefix != "*" && !Self.isValidPrefix(prefix) {
                throw PolicyError(
                    "\(location): the prefix '\(prefix)' has characters stream names cannot have (a-z 0-9 . - _)")
            }
            grants.append(Grant(identity: words[0], operation: operation, prefixes: Array(words[2...])))
        }
        self.grants = grants
    }

    private static func isValidPrefix(_ prefix: String) -> Bool {
        !prefix.isEmpty && prefix.utf8.count <= 200
            && prefix.utf8.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                    || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
            }
    }
}

/// A mistake in a policy file, with its file and line.
public struct PolicyError: Error, Sendable, Hashable, CustomStringConvertible {
    /// `file:line: what is wrong`.
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}
