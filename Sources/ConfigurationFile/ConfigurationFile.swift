/// A configuration file of `key = value` lines (`#` starts a comment), parsed once and then asked for its values,
/// each answer or mistake naming the file and line. Unknown keys, keys set twice (unless repeatable) and keys
/// without a value are refused while parsing, before a service starts.
///
/// The disks and ingest configurations predate it and still parse for themselves; new services use this.
public struct ConfigurationFile: Sendable {
    /// One value and where it is.
    public struct Entry: Sendable, Hashable {
        /// The value, trimmed.
        public var value: String
        /// Its line, from 1.
        public var line: Int
    }

    /// The file's name, for messages.
    public let file: String
    private let entries: [String: [Entry]]

    /// Parses `text` read from `file`, accepting only `known` keys, of which only `repeatable` may appear twice.
    public init(
        parsing text: String, file: String, known: Set<String>, repeatable: Set<String> = []
    ) throws(ConfigurationFileError) {
        var entries: [String: [Entry]] = [:]
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = Self.trimmed(
                raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
            guard !line.isEmpty else { continue }
            let location = "\(file):\(index + 1)"
            guard let equals = line.firstIndex(of: "=") else {
                throw ConfigurationFileError("\(location): expected `key = value`, found '\(line)'")
            }
            let key = Self.trimmed(line[..<equals])
            let value = Self.trimmed(line[line.index(after: equals)...])
            guard known.contains(key) else {
                throw ConfigurationFileError(
                    "\(location): unknown key '\(key)' (known: \(known.sorted().joined(separator: ", ")))")
            }
            guard !value.isEmpty else { throw ConfigurationFileError("\(location): '\(key)' has no value") }
            if !repeatable.contains(key), let first = entries[key]?.first {
                throw ConfigurationFileError("\(location): '\(key)' is already set on line \(first.line)")
            }
            entries[key, default: []].append(Entry(value: value, line: index + 1))
        }
        self.file = file
        self.entries = entries
    }

    /// The value of `key`, or nil when it is not set.
    public func optional(_ key: String) -> Entry? {
        entries[key]?.first
    }

    /// The value of `key`; a mistake naming the file when it is not set.
    public func required(_ key: String) throws(ConfigurationFileError) -> Entry {
        guard let entry = entries[key]?.first else { throw ConfigurationFileError("\(file): '\(key)' is missing") }
        return entry
    }

    /// Every value of a repeatable `key`, in file order.
    public func all(_ key: String) -> [Entry] {
        entries[key] ?? []
    }

    /// A mistake at `entry`'s line.
    public func mistake(_ entry: Entry, _ message: String) -> ConfigurationFileError {
        ConfigurationFileError("\(file):\(entry.line): \(message)")
    }

    /// The numeric user or group id `entry` holds.
    public func identifier(_ entry: Entry, key: String) throws(ConfigurationFileError) -> UInt32 {
        guard let id = UInt32(entry.value) else { throw mistake(entry, "'\(key)' must be a numeric id") }
        return id
    }

    /// The number `entry` holds, in `range`.
    public func number(_ entry: Entry, key: String, in range: ClosedRange<Int>) throws(ConfigurationFileError) -> Int {
        guard let number = Int(entry.value), range.contains(number) else {
            throw mistake(entry, "'\(key)' must be a number in \(range.lowerBound)…\(range.upperBound)")
        }
        return number
    }

    /// The host and port `entry` holds as `HOST:PORT` (an IPv6 host in brackets).
    public func address(_ entry: Entry, key: String) throws(ConfigurationFileError) -> (host: String, port: Int) {
        guard let address = Self.address(entry.value) else {
            throw mistake(entry, "'\(key)' must be HOST:PORT, found '\(entry.value)'")
        }
        return address
    }

    /// `HOST:PORT` (an IPv6 host in brackets) as the host and the port; nil when it is not one.
    public static func address(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), colon != text.startIndex,
            let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port)
        else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host, port)
    }

    private static func trimmed(_ text: some StringProtocol) -> String {
        var text = Substring(text)
        while let first = text.first, first == " " || first == "\t" || first == "\r" { text.removeFirst() }
        while let last = text.last, last == " " || last == "\t" || last == "\r" { text.removeLast() }
        return String(text)
    }
}

/// A mistake in a configuration file, with the file and line.
public struct ConfigurationFileError: Error, Sendable, Hashable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
