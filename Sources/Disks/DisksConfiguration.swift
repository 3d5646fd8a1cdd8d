import CustodyLog

/// The configuration of `saatkond disks`, parsed from a file of `key = value` lines.
///
///     chassis = /usr/share/saatkond/hardware/chassis/supermicro-sc826be1c.bays
///     members-root = /srv/saatkond/members     (one XFS mount per member disk, named by the disk's identity)
///     state = /var/lib/saatkond-disks           (lifecycle, custody log, maintenance progress)
///     socket = /run/saatkond/disks.sock
///     socket-group = 993                        (optional: the group of the socket file, 0660: who may connect)
///     data-shards = 8
///     parity-shards = 3
///     keys-socket = /run/saatkond/keys.sock   (the keys service: the storage public key and the journal key)
///     storage-public-key = /etc/saatkond/keys/storage.pub   (instead of keys-socket, both, where no keys service
///     journal-key = /run/saatkond/keys/journal.key          runs: a workstation, tests of the service alone)
///     storage-owner = 990:990                   (uid:gid that owns a new member's root: the ingest user)
///     scrub-every = 30d                         (optional; s, m, h or d)
///     smart-every = 1h                          (optional)
///     rebuild-rate = 200M                       (optional: bytes per second for rebuilds and scrubs; K, M, G)
///     rig = /var/lib/saatkond-rig               (optional: the test rig whose LEDs are state files)
///     console-uid = 991                         (optional, repeatable: who may order removals, adoptions, locates)
///     reader-uid = 992                          (optional, repeatable: who may read the state: health, ingest)
///     reporter-uid = 990                        (optional, repeatable: who may report I/O errors: ingest)
///     audit-source = keys /var/lib/saatkond-keys/audit.log
///                                               (optional, repeatable: another service's own log, whose records
///                                                are copied into the custody log, the one kept on the members)
///     recorder = ingest 990                     (optional, repeatable: a service that records its starts, stops and
///                                                watchdog changes in the custody log through the socket, by uid)
///
/// Every mistake is reported with the file and line, before anything starts.
public struct DisksConfiguration: Sendable, Hashable {
    public var chassis: String
    public var membersRoot: String
    public var state: String
    public var socket: String
    public var socketGroup: UInt32?
    public var dataShards: Int
    public var parityShards: Int
    public var storagePublicKey: String
    public var journalKey: String
    /// The keys service's socket; when set, the two key files above are "".
    public var keysSocket: String?
    public var storageOwner: (uid: UInt32, gid: UInt32)?
    public var scrubEvery: Duration = .seconds(30 * 86_400)
    public var smartEvery: Duration = .seconds(3_600)
    public var rebuildBytesPerSecond: Int? = 200 << 20
    public var rig: String?
    public var consoleUIDs: Set<UInt32> = []
    public var readerUIDs: Set<UInt32> = []
    public var reporterUIDs: Set<UInt32> = []
    /// Other services' logs copied into the custody log, by the name their records carry as `origin`.
    public var auditSources: [String: String] = [:]
    /// The services that may record their history through the socket: the name written into their records, by uid.
    public var recorders: [UInt32: String] = [:]
    /// The configuration file's text, recorded (as its SHA-256) in the custody log at every start: a changed
    /// configuration is an event.
    public var text: String?

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.chassis == rhs.chassis && lhs.membersRoot == rhs.membersRoot && lhs.state == rhs.state
            && lhs.socket == rhs.socket && lhs.dataShards == rhs.dataShards && lhs.parityShards == rhs.parityShards
            && lhs.storagePublicKey == rhs.storagePublicKey && lhs.journalKey == rhs.journalKey
            && lhs.storageOwner?.uid == rhs.storageOwner?.uid && lhs.storageOwner?.gid == rhs.storageOwner?.gid
            && lhs.scrubEvery == rhs.scrubEvery && lhs.smartEvery == rhs.smartEvery
            && lhs.rebuildBytesPerSecond == rhs.rebuildBytesPerSecond && lhs.rig == rhs.rig
            && lhs.consoleUIDs == rhs.consoleUIDs && lhs.readerUIDs == rhs.readerUIDs
            && lhs.reporterUIDs == rhs.reporterUIDs && lhs.socketGroup == rhs.socketGroup
            && lhs.auditSources == rhs.auditSources && lhs.recorders == rhs.recorders
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(chassis)
        hasher.combine(membersRoot)
        hasher.combine(state)
    }

    /// A configuration made in code (the development appliance, tests).
    public init(
        chassis: String, membersRoot: String, state: String, socket: String, dataShards: Int, parityShards: Int,
        storagePublicKey: String, journalKey: String
    ) {
        self.chassis = chassis
        self.membersRoot = membersRoot
        self.state = state
        self.socket = socket
        self.dataShards = dataShards
        self.parityShards = parityShards
        self.storagePublicKey = storagePublicKey
        self.journalKey = journalKey
    }

    private static let required = [
        "chassis", "members-root", "state", "socket", "data-shards", "parity-shards",
    ]
    private static let keyFiles = ["storage-public-key", "journal-key"]
    private static let repeatable: Set<String> = [
        "console-uid", "reader-uid", "reporter-uid", "audit-source", "recorder",
    ]
    private static let known = Set(
        required + keyFiles
            + ["storage-owner", "scrub-every", "smart-every", "rebuild-rate", "rig", "socket-group", "keys-socket"]
            + repeatable)

    /// Parses `text`, read from `file`.
    public init(parsing text: String, file: String) throws(DisksConfigurationError) {
        var values: [String: [(value: String, line: Int)]] = [:]
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = (raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
                .trimmingWhitespace
            guard !line.isEmpty else { continue }
            let location = "\(file):\(index + 1)"
            guard let equals = line.firstIndex(of: "=") else {
                throw DisksConfigurationError("\(location): expected `key = value`, found '\(line)'")
            }
            let key = String(line[..<equals]).trimmingWhitespace
            let value = String(line[line.index(after: equals)...]).trimmingWhitespace
            guard Self.known.contains(key) else {
                throw DisksConfigurationError(
                    "\(location): unknown key '\(key)' (known: \(Self.known.sorted().joined(separator: ", ")))")
            }
            guard !value.isEmpty else { throw DisksConfigurationError("\(location): '\(key)' has no value") }
            if !Self.repeatable.contains(key), let first = values[key]?.first {
                throw DisksConfigurationError("\(location): '\(key)' is already set on line \(first.line)")
            }
            values[key, default: []].append((value, index + 1))
        }
        for key in Self.required where values[key] == nil {
            throw DisksConfigurationError("\(file): '\(key)' is missing")
        }
        if values["keys-socket"] != nil {
            if let key = Self.keyFiles.first(where: { values[$0] != nil }), let line = values[key]?.first?.line {
                throw DisksConfigurationError(
                    "\(file):\(line): '\(key)' and 'keys-socket' exclude each other: with a keys service the keys "
                        + "come from it")
            }
        } else {
            for key in Self.keyFiles where values[key] == nil {
                throw DisksConfigurationError("\(file): '\(key)' is missing (or give 'keys-socket')")
            }
        }
        func one(_ key: String) -> (value: String, line: Int) { values[key]![0] }
        func number(_ key: String, in range: ClosedRange<Int>) throws(DisksConfigurationError) -> Int {
            let (value, line) = one(key)
            guard let number = Int(value), range.contains(number) else {
                throw DisksConfigurationError(
                    "\(file):\(line): '\(key)' must be a number in \(range.lowerBound)…\(range.upperBound)")
            }
            return number
        }
        self.init(
            chassis: one("chassis").value, membersRoot: one("members-root").value, state: one("state").value,
            socket: one("socket").value, dataShards: try number("data-shards", in: 1...64),
            parityShards: try number("parity-shards", in: 1...16),
            storagePublicKey: values["storage-public-key"]?.first?.value ?? "",
            journalKey: values["journal-key"]?.first?.value ?? "")
        keysSocket = values["keys-socket"]?.first?.value
        if let (value, line) = values["storage-owner"]?.first {
            let parts = value.split(separator: ":").map { UInt32($0) }
            guard parts.count == 2, let uid = parts[0], let gid = parts[1] else {
                throw DisksConfigurationError("\(file):\(line): storage-owner must be UID:GID, found '\(value)'")
            }
            storageOwner = (uid, gid)
        }
        for (key, path) in [("scrub-every", \Self.scrubEvery), ("smart-every", \Self.smartEvery)] {
            guard let (value, line) = values[key]?.first else { continue }
            guard let duration = Self.duration(value) else {
                throw DisksConfigurationError(
                    "\(file):\(line): '\(key)' must be a positive number followed by s, m, h or d, found '\(value)'")
            }
            self[keyPath: path] = duration
        }
        if let (value, line) = values["rebuild-rate"]?.first {
            guard let rate = Self.bytes(value) else {
                throw DisksConfigurationError(
                    "\(file):\(line): 'rebuild-rate' must be bytes per second (e.g. 200M), or 0 for no limit")
            }
            rebuildBytesPerSecond = rate == 0 ? nil : rate
        }
        rig = values["rig"]?.first?.value
        if let (value, line) = values["socket-group"]?.first {
            guard let gid = UInt32(value) else {
                throw DisksConfigurationError("\(file):\(line): 'socket-group' must be a numeric group id")
            }
            socketGroup = gid
        }
        for (key, path) in [
            ("console-uid", \Self.consoleUIDs), ("reader-uid", \Self.readerUIDs), ("reporter-uid", \Self.reporterUIDs),
        ] {
            for (value, line) in values[key] ?? [] {
                guard let uid = UInt32(value) else {
                    throw DisksConfigurationError("\(file):\(line): '\(key)' must be a numeric user id")
                }
                self[keyPath: path].insert(uid)
            }
        }
        for (value, line) in values["audit-source"] ?? [] {
            let parts = value.split(separator: " ", maxSplits: 1).map { $0.trimmingWhitespace }
            guard parts.count == 2, CustodyEvent.isName(parts[0]), parts[1].hasPrefix("/") else {
                throw DisksConfigurationError(
                    "\(file):\(line): 'audit-source' must be NAME /ABSOLUTE/PATH (a name of A-Z a-z 0-9 . _ -)")
            }
            guard auditSources[parts[0]] == nil else {
                throw DisksConfigurationError("\(file):\(line): the audit source '\(parts[0])' is named twice")
            }
            auditSources[parts[0]] = parts[1]
        }
        for (value, line) in values["recorder"] ?? [] {
            let parts = value.split(separator: " ", maxSplits: 1).map { $0.trimmingWhitespace }
            guard parts.count == 2, CustodyEvent.isName(parts[0]), let uid = UInt32(parts[1]) else {
                throw DisksConfigurationError("\(file):\(line): 'recorder' must be NAME UID (e.g. ingest 990)")
            }
            guard recorders[uid] == nil, !recorders.values.contains(parts[0]), parts[0] != "disks" else {
                throw DisksConfigurationError(
                    "\(file):\(line): the recorder '\(parts[0])' or uid \(uid) is named twice (or is 'disks')")
            }
            recorders[uid] = parts[0]
        }
        self.text = text
    }

    /// `90s`, `15m`, `1h`, `30d`.
    public static func duration(_ text: String) -> Duration? {
        guard let unit = text.last, let value = Int(text.dropLast()), value > 0 else { return nil }
        let scale: Int
        switch unit {
        case "s": scale = 1
        case "m": scale = 60
        case "h": scale = 3_600
        case "d": scale = 86_400
        default: return nil
        }
        let (seconds, overflow) = value.multipliedReportingOverflow(by: scale)
        return overflow ? nil : .seconds(seconds)
    }

    /// `0`, `4096`, `512K`, `200M`, `1G`.
    public static func bytes(_ text: String) -> Int? {
        let scales: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
        if let unit = text.last, let scale = scales[unit], let value = Int(text.dropLast()), value >= 0 {
            let (bytes, overflow) = value.multipliedReportingOverflow(by: scale)
            return overflow ? nil : bytes
        }
        return Int(text).flatMap { $0 >= 0 ? $0 : nil }
    }
}

/// A mistake in the disks service's configuration, with the file and line.
public struct DisksConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

extension StringProtocol {
    var trimmingWhitespace: String {
        var text = Substring(self)
        while let first = text.first, first == " " || first == "\t" || first == "\r" { text.removeFirst() }
        while let last = text.last, last == " " || last == "\t" || last == "\r" { text.removeLast() }
        return String(text)
    }
}
