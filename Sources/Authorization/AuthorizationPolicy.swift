import StreamStore

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

    /// One grant: an identity may perform an operation on the streams that one of the prefixes covers.
    public struct Grant: Sendable, Hashable {
        /// The certificate subject's common name.
        public var identity: String
        /// The common name of the CA that must have issued the certificate; nil when any trusted CA may.
        public var issuer: String?
        /// The operation.
        public var operation: Operation
        /// Stream-name prefixes, matched by whole name components (see ``covers(_:stream:)``); `*` matches every
        /// stream.
        public var prefixes: [String]
        /// Where the grant was written (`file:line`), for mistakes found after parsing.
        public var location: String

        /// Creates a grant.
        public init(
            identity: String, issuer: String? = nil, operation: Operation, prefixes: [String], location: String = ""
        ) {
            self.identity = identity
            self.issuer = issuer
            self.operation = operation
            self.prefixes = prefixes
            self.location = location
        }

        func admits(commonName: String, issuer peerIssuer: String?) -> Bool {
            identity == commonName && (issuer == nil || issuer == peerIssuer)
        }
    }

    /// The grants, in file order.
    public let grants: [Grant]
    /// Certificates that no grant applies to any more, whatever their names.
    public var revoked: DenyList

    /// A policy of `grants`, with the certificates in `revoked` refused.
    public init(grants: [Grant], revoked: DenyList = DenyList()) {
        self.grants = grants
        self.revoked = revoked
    }

    /// Whether a certificate named `identity` (issued by the CA named `issuer`) may perform `operation` on `stream`.
    public func allows(_ identity: String, issuer: String? = nil, _ operation: Operation, stream: String) -> Bool {
        grants.contains { grant in
            grant.admits(commonName: identity, issuer: issuer) && grant.operation == operation
                && grant.prefixes.contains { Self.covers($0, stream: stream) }
        }
    }

    /// Whether `peer` may perform `operation` on `stream`: a grant names it and its certificate is not revoked.
    public func allows(_ peer: CertifiedPeer, _ operation: Operation, stream: String) -> Bool {
        guard let commonName = peer.commonName, !revoked.denies(peer) else { return false }
        return allows(commonName, issuer: peer.issuer, operation, stream: stream)
    }

    /// The prefixes of every grant of `operation` to `peer` (none when its certificate is revoked or has no common
    /// name): the streams the peer may perform it on are exactly those one of them covers.
    public func prefixes(_ peer: CertifiedPeer, _ operation: Operation) -> [String] {
        guard let commonName = peer.commonName, !revoked.denies(peer) else { return [] }
        return grants.filter { $0.operation == operation && $0.admits(commonName: commonName, issuer: peer.issuer) }
            .flatMap(\.prefixes)
    }

    /// Whether `prefix` covers `stream`, by whole name components: `ee.pop` covers `ee.pop` and `ee.pop.wal`, never
    /// `ee.population`; a prefix that ends with a dot (`ee.`) covers the names below it; `*` covers every name.
    /// A grant for one registry must not open another whose name happens to begin with the same letters.
    public static func covers(_ prefix: String, stream: String) -> Bool {
        if prefix == "*" { return true }
        let name = stream.utf8
        let start = prefix.utf8
        guard name.starts(with: start) else { return false }
        if name.count == start.count || start.last == UInt8(ascii: ".") { return true }
        return name[name.index(name.startIndex, offsetBy: start.count)] == UInt8(ascii: ".")
    }

    /// Refuses a policy that leaves the issuer open where more than one CA is trusted: a name is unique only
    /// within one CA, so another CA could issue a certificate with a grant's name.
    public func requireIssuers(trustedAuthorities count: Int) throws(PolicyError) {
        guard count > 1, let open = grants.first(where: { $0.issuer == nil }) else { return }
        throw PolicyError(
            "\(open.location): \(count) CAs are trusted, so the grant for '\(open.identity)' must name its issuer: "
                + "`\(open.identity)@<issuing CA's common name>`")
    }

    /// Parses the policy file format:
    ///
    ///     # comment
    ///     <identity>[@<issuer>] append|read <prefix> [<prefix> …]
    ///
    /// One grant per line; the identity is the certificate subject's common name (no `@`), and the issuer, where
    /// given, the common name of the CA that must have issued it; either may be double-quoted to hold spaces
    /// (`sender@"Home CA 2"`). A prefix uses the
    /// characters of stream names and covers whole name components, or is `*` for every stream. A mistake is
    /// reported with the file and line.
    public init(parsing text: String, file: String) throws(PolicyError) {
        var grants: [Grant] = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let location = "\(file):\(index + 1)"
            guard let words = Self.words(of: line) else {
                throw PolicyError("\(location): a quotation mark is not closed")
            }
            guard !words.isEmpty else { continue }
            guard words.count >= 3 else {
                throw PolicyError(
                    "\(location): expected `<identity> append|read <prefix>…`, found \(words.count) words")
            }
            guard let operation = Operation(rawValue: words[1]) else {
                throw PolicyError("\(location): unknown operation '\(words[1])' (expected append or read)")
            }
            for prefix in words[2...] where prefix != "*" && !Self.isValidPrefix(prefix) {
                throw PolicyError(
                    "\(location): the prefix '\(prefix)' has characters stream names cannot have (A-Z a-z 0-9 . - _)")
            }
            let names = words[0].split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false)
            guard !names[0].isEmpty, names.count == 1 || (!names[1].isEmpty && !names[1].contains("@")) else {
                throw PolicyError("\(location): expected `<identity>` or `<identity>@<issuer>`, found '\(words[0])'")
            }
            grants.append(
                Grant(
                    identity: String(names[0]), issuer: names.count == 2 ? String(names[1]) : nil,
                    operation: operation, prefixes: Array(words[2...]), location: location))
        }
        self.grants = grants
        self.revoked = DenyList()
    }

    /// The words of a line, split at blanks outside double quotes (which are dropped): CA names have spaces
    /// (`sender@"Home CA 2"`). Nil when a quote is left open.
    private static func words(of line: Substring) -> [String]? {
        var words: [String] = []
        var word = ""
        var inWord = false
        var quoted = false
        for character in line {
            if character == "\"" {
                quoted.toggle()
                inWord = true
            } else if !quoted && (character == " " || character == "\t" || character == "\r") {
                if inWord { words.append(word) }
                word = ""
                inWord = false
            } else {
                word.append(character)
                inWord = true
            }
        }
        guard !quoted else { return nil }
        if inWord { words.append(word) }
        return words
    }

    private static func isValidPrefix(_ prefix: String) -> Bool {
        !prefix.isEmpty && prefix.utf8.count <= 200
            && prefix.utf8.allSatisfy(StreamName.isAllowed)
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
