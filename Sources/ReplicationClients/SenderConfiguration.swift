/// Home's side, in one file: which appliances (embassies) every stream goes to, with which TLS identity, where
/// home keeps its own records, and the prefix of a PostgreSQL cluster's archive. Parsed from `key = value` lines;
/// `[appliance NAME]` starts the settings of one appliance, and keys before the first section are defaults for all:
///
///     # home's sender configuration: saatkond send, wal-push, wal-fetch, restore, list, lag, catch-up
///     cluster = ee.population.pg        (wal-push and wal-fetch use the streams <cluster>.wal.<WAL file name>)
///     state = /var/lib/postgresql/saatkond   (home's records: what each appliance still lacks, and its spool)
///     required = 1                      (appliances that must hold a file before wal-push or send succeeds)
///     skip-unreachable-for = 30         (seconds later sends skip an appliance that was left behind)
///     push-ahead = 8                    (wal-push: files pushed per call, the asked-for one and others ready)
///     ca = /etc/saatkond/embassy-ca.pem
///     certificate = /etc/saatkond/sender.pem
///     private-key = /etc/saatkond/sender-key.pem
///     [appliance lu1]
///     connect = embassy-lu.example:7443
///     read-connect = embassy-lu.example:7444   (restores, listings, wal-fetch: the appliance's reader service;
///                                              `connect` when not set, as `saatkond dev` serves both on one port)
///     [appliance lu2]
///     connect = embassy-lu2.example:7443
///     ca = /etc/saatkond/embassy-lu2-ca.pem
///
/// `development-state = DIR` takes the three TLS files from a `saatkond dev` state directory instead. Every mistake is
/// reported with the file and line before anything connects.
public struct SenderConfiguration: Sendable, Hashable {
    /// One appliance, as configured.
    public struct Appliance: Sendable, Hashable {
        /// The name home's records and `saatkond lag` use; letters, digits, `.`, `-`, `_`.
        public var name: String
        /// The replication address.
        public var host: String
        /// Its port.
        public var port: Int
        /// Where restores, listings and `wal-fetch` go: the appliance's reader service (`saatkond reader`), whose
        /// port is not ingest's; ``host`` and ``port`` unless configured.
        public var readHost: String
        /// The reader service's port.
        public var readPort: Int
        /// The CA certificate (PEM) that issued the appliance's certificate.
        public var authority: String?
        /// Home's sender certificate (PEM).
        public var certificate: String?
        /// Its private key (PEM).
        public var privateKey: String?
        /// A development appliance's state directory, whose identity stands in for the three files above.
        public var developmentState: String?
    }

    /// The prefix of a PostgreSQL cluster's streams.
    public var cluster: String?
    /// Home's record directory.
    public var state: String?
    /// How many appliances must hold a file durably before a send succeeds; the others catch up from home's records.
    public var required: Int
    /// Seconds later sends skip an appliance that was left behind (``FanOutPolicy/unreachableBackoff``).
    public var skipUnreachableFor: Int
    /// Files `wal-push` pushes per call: the one asked for, then others PostgreSQL marked ready; nil when not set.
    public var pushAhead: Int?
    /// The appliances, in file order.
    public var appliances: [Appliance]

    /// Creates a configuration.
    public init(
        cluster: String? = nil, state: String? = nil, required: Int = 1, skipUnreachableFor: Int = 30,
        pushAhead: Int? = nil, appliances: [Appliance]
    ) {
        self.pushAhead = pushAhead
        self.cluster = cluster
        self.state = state
        self.required = required
        self.skipUnreachableFor = skipUnreachableFor
        self.appliances = appliances
    }

    private static let global: Set<String> = [
        "cluster", "state", "required", "skip-unreachable-for", "push-ahead", "ca", "certificate", "private-key",
        "development-state",
    ]
    private static let perAppliance: Set<String> = [
        "connect", "read-connect", "ca", "certificate", "private-key", "development-state",
    ]

    /// Parses `text`, read from `file`.
    public init(parsing text: String, file: String) throws(SenderConfigurationError) {
        var defaults: [String: String] = [:]
        var sections: [(name: String, line: Int, values: [String: String])] = []
        var lines: [String: Int] = [:]
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = Self.trimmed(
                raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
            guard !line.isEmpty else { continue }
            let location = "\(file):\(index + 1)"
            if line.hasPrefix("[") {
                let words = line.dropFirst().dropLast().split(separator: " ", omittingEmptySubsequences: true)
                guard line.hasSuffix("]"), words.count == 2, words[0] == "appliance" else {
                    throw SenderConfigurationError("\(location): expected `[appliance NAME]`, found '\(line)'")
                }
                let name = String(words[1])
                guard Self.isValidName(name) else {
                    throw SenderConfigurationError(
                        "\(location): the appliance name '\(name)' may use only letters, digits, '.', '-' and '_'")
                }
                if let other = sections.first(where: { $0.name == name }) {
                    throw SenderConfigurationError(
                        "\(location): the appliance '\(name)' is already configured on line \(other.line)")
                }
                sections.append((name, index + 1, [:]))
                continue
            }
            guard let equals = line.firstIndex(of: "=") else {
                throw SenderConfigurationError("\(location): expected `key = value`, found '\(line)'")
            }
            let key = Self.trimmed(line[..<equals])
            let value = Self.trimmed(line[line.index(after: equals)...])
            let known = sections.isEmpty ? Self.global : Self.perAppliance
            guard known.contains(key) else {
                let place = sections.isEmpty ? "before the first [appliance NAME]" : "in an [appliance NAME] section"
                throw SenderConfigurationError(
                    "\(location): unknown key '\(key)' \(place) (known there: \(known.sorted().joined(separator: ", ")))"
                )
            }
            guard !value.isEmpty else { throw SenderConfigurationError("\(location): '\(key)' has no value") }
            let scope = sections.isEmpty ? "" : sections[sections.count - 1].name
            if let line = lines["\(scope)/\(key)"] {
                throw SenderConfigurationError("\(location): '\(key)' is already set on line \(line)")
            }
            lines["\(scope)/\(key)"] = index + 1
            if sections.isEmpty {
                defaults[key] = value
            } else {
                sections[sections.count - 1].values[key] = value
            }
        }
        guard !sections.isEmpty else {
            throw SenderConfigurationError("\(file): no appliance is configured; add an `[appliance NAME]` section")
        }
        var appliances: [Appliance] = []
        for section in sections {
            let values = defaults.merging(section.values) { _, own in own }
            guard let connect = values["connect"] else {
                throw SenderConfigurationError(
                    "\(file):\(section.line): the appliance '\(section.name)' has no connect")
            }
            guard let (host, port) = Self.hostAndPort(connect) else {
                throw SenderConfigurationError(
                    "\(file):\(lines["\(section.name)/connect"]!): connect must be HOST:PORT, found '\(connect)'")
            }
            var read = (host: host, port: port)
            if let readConnect = section.values["read-connect"] {
                guard let (readHost, readPort) = Self.hostAndPort(readConnect) else {
                    throw SenderConfigurationError(
                        "\(file):\(lines["\(section.name)/read-connect"]!): read-connect must be HOST:PORT, found "
                            + "'\(readConnect)'")
                }
                read = (readHost, readPort)
            }
            let files = [values["ca"], values["certificate"], values["private-key"]].compactMap { $0 }
            guard files.count == 3 || (files.isEmpty && values["development-state"] != nil) else {
                throw SenderConfigurationError(
                    "\(file):\(section.line): the appliance '\(section.name)' needs ca, certificate and private-key "
                        + "(here or before the first section), or development-state")
            }
            appliances.append(
                Appliance(
                    name: section.name, host: host, port: port, readHost: read.host, readPort: read.port,
                    authority: values["ca"],
                    certificate: values["certificate"], privateKey: values["private-key"],
                    developmentState: files.isEmpty ? values["development-state"] : nil))
        }
        var required = 1
        if let text = defaults["required"] {
            guard let number = Int(text), (1...appliances.count).contains(number) else {
                throw SenderConfigurationError(
                    "\(file):\(lines["/required"]!): required must be a number from 1 to the \(appliances.count) "
                        + "configured appliances, found '\(text)'")
            }
            required = number
        }
        var skip = 30
        if let text = defaults["skip-unreachable-for"] {
            guard let seconds = Int(text), (0...86_400).contains(seconds) else {
                throw SenderConfigurationError(
                    "\(file):\(lines["/skip-unreachable-for"]!): skip-unreachable-for must be seconds from 0 to 86400, "
                        + "found '\(text)'")
            }
            skip = seconds
        }
        var pushAhead: Int?
        if let text = defaults["push-ahead"] {
            guard let count = Int(text), (1...64).contains(count) else {
                throw SenderConfigurationError(
                    "\(file):\(lines["/push-ahead"]!): push-ahead must be a number from 1 to 64, found '\(text)'")
            }
            pushAhead = count
        }
        self.init(
            cluster: defaults["cluster"], state: defaults["state"], required: required, skipUnreachableFor: skip,
            pushAhead: pushAhead, appliances: appliances)
    }

    /// Whether `name` is usable as an appliance's name: it names a directory of home's records.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64 && name.first != "."
            && name.utf8.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                    || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: ".")
                    || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
            }
    }

    /// `HOST:PORT`, with an IPv6 host in brackets.
    public static func hostAndPort(_ text: String) -> (String, Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (1...65535).contains(port)
        else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host.isEmpty ? nil : (host, port)
    }

    private static func trimmed(_ text: some StringProtocol) -> String {
        var text = Substring(text)
        while let first = text.first, first == " " || first == "\t" || first == "\r" { text.removeFirst() }
        while let last = text.last, last == " " || last == "\t" || last == "\r" { text.removeLast() }
        return String(text)
    }
}

/// A mistake in home's sender configuration, with its file and line.
public struct SenderConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// `file:line: what is wrong`.
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}
