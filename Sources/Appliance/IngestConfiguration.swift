import ConfigurationFile

/// The configuration of `saatkond ingest`, parsed from a file of `key = value` lines.
///
///     # the production receiver
///     listen = 0.0.0.0:7443
///     certificate = /etc/saatkond/tls/appliance.pem
///     private-key = /etc/saatkond/tls/appliance-key.pem
///     home-ca = /etc/saatkond/tls/home-ca.pem
///     policy = /etc/saatkond/authorization.conf
///     deny-list = /etc/saatkond/revoked.conf    (optional: revoked sender certificates; both reloaded on SIGHUP)
///     member = /srv/saatkond/bay-01          (one line per member, any order)
///     member-root = /srv/saatkond/members    (instead of `member` lines: every directory under it, as `saatkond
///                                             disks` mounts and unmounts them; followed while ingest runs)
///     disks-socket = /run/saatkond/disks.sock (optional: where to report I/O errors met on members)
///     keys-socket = /run/saatkond/keys.sock  (the keys service: the storage public key, the journal key, receipts
///                                             signed by the TPM-resident key)
///     appliance-name = ee-embassy-lu-1
///     metrics-socket = /run/saatkond-ingest/metrics.sock  (optional: replication and storage figures, Prometheus's
///     metrics-reader-uid = 993                          text, for the health service's /metrics; repeatable uid)
///
/// Without a keys service (a workstation, tests of the receiver alone) the keys come from files instead, all three:
///
///     storage-public-key = /etc/saatkond/keys/storage.pub
///     journal-key = /run/saatkond/keys/journal.key
///     signing-key = /run/saatkond/keys/receipt-signing-key.pem
///
/// Every mistake is reported with the file and line, before anything starts. There is no `storage-private-key`:
/// the network-facing receiver can write but never read what it committed, so restores of committed segments are
/// refused here; they are served by `saatkond reader` (``ReaderConfiguration``), with segment keys unwrapped by the
/// keys service.
public struct IngestConfiguration: Sendable, Hashable {
    /// Where to listen.
    public var host: String
    /// The port.
    public var port: Int
    /// The appliance's TLS certificate chain (PEM).
    public var certificate: String
    /// Its private key (PEM).
    public var privateKey: String
    /// The home CA whose certificates senders must present (PEM).
    public var homeAuthority: String
    /// The authorization policy file.
    public var policy: String
    /// The deny list of revoked sender certificates, if one is configured.
    public var denyList: String?
    /// The array's member directories (none when ``memberRoot`` is set).
    public var members: [String]
    /// The directory whose subdirectories are the members, mounted there by the disks service.
    public var memberRoot: String?
    /// The disks service's state socket, told of every I/O error met on a member.
    public var disksSocket: String?
    /// The keys service's socket; nil when the keys come from the three files below.
    public var keysSocket: String?
    /// The storage public key (32 bytes, raw or as 64 hexadecimal digits); "" with a keys socket.
    public var storagePublicKey: String
    /// The journal key (32 bytes); "" with a keys socket.
    public var journalKey: String
    /// The receipt-signing key, "" with a keys socket: an ECDSA P-256 private key in PEM (PKCS#8
    /// `-----BEGIN PRIVATE KEY-----`, or SEC 1 `-----BEGIN EC PRIVATE KEY-----`), unencrypted.
    public var signingKey: String
    /// The name receipts give the appliance.
    public var applianceName: String
    /// The local socket that answers the replication and storage figures, if any.
    public var metricsSocket: String?
    /// Who may ask it (root always may).
    public var metricsReaderUIDs: Set<UInt32> = []
    /// The file's text, whose SHA-256 the service's start records in the custody log (a changed configuration is an
    /// event).
    public var text: String?

    private static let required = ["listen", "certificate", "private-key", "home-ca", "policy", "appliance-name"]
    private static let keyFiles = ["storage-public-key", "journal-key", "signing-key"]
    private static let known = Set(
        required + keyFiles + [
            "deny-list", "member", "member-root", "disks-socket", "keys-socket", "metrics-socket", "metrics-reader-uid",
        ])

    /// Parses `text`, read from `file`.
    public init(parsing text: String, file: String) throws(ConfigurationError) {
        var values: [String: [String]] = [:]
        var lines: [String: Int] = [:]
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = (raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
                .trimmingWhitespace
            guard !line.isEmpty else { continue }
            let location = "\(file):\(index + 1)"
            guard let equals = line.firstIndex(of: "=") else {
                throw ConfigurationError("\(location): expected `key = value`, found '\(line)'")
            }
            let key = String(line[..<equals]).trimmingWhitespace
            let value = String(line[line.index(after: equals)...]).trimmingWhitespace
            if key == "storage-private-key" {
                throw ConfigurationError(
                    "\(location): 'storage-private-key' is no longer accepted: the network-facing receiver never holds "
                        + "the key that reads committed data; remove the line (and the key file from this host)")
            }
            guard Self.known.contains(key) else {
                throw ConfigurationError(
                    "\(location): unknown key '\(key)' (known: \(Self.known.sorted().joined(separator: ", ")))")
            }
            guard !value.isEmpty else { throw ConfigurationError("\(location): '\(key)' has no value") }
            if key != "member", key != "metrics-reader-uid", values[key] != nil {
                throw ConfigurationError("\(location): '\(key)' is already set on line \(lines[key]!)")
            }
            if key == "metrics-reader-uid", UInt32(value) == nil {
                throw ConfigurationError("\(location): 'metrics-reader-uid' must be a numeric user id")
            }
            values[key, default: []].append(value)
            lines[key] = index + 1
        }
        let listen = values["listen"]?.first ?? ""
        guard let (host, port) = ConfigurationFile.address(listen) else {
            if let line = lines["listen"] {
                throw ConfigurationError("\(file):\(line): listen must be HOST:PORT, found '\(listen)'")
            }
            throw ConfigurationError("\(file): 'listen' is missing")
        }
        for key in Self.required where values[key] == nil {
            throw ConfigurationError("\(file): '\(key)' is missing")
        }
        if values["keys-socket"] != nil {
            if let key = Self.keyFiles.first(where: { values[$0] != nil }) {
                throw ConfigurationError(
                    "\(file):\(lines[key]!): '\(key)' and 'keys-socket' exclude each other: with a keys service the "
                        + "keys come from it")
            }
        } else {
            for key in Self.keyFiles where values[key] == nil {
                throw ConfigurationError("\(file): '\(key)' is missing (or give 'keys-socket')")
            }
        }
        switch (values["member"], values["member-root"]) {
        case (nil, nil):
            throw ConfigurationError("\(file): neither 'member' nor 'member-root' is set: where is the array?")
        case (.some, .some):
            throw ConfigurationError(
                "\(file):\(lines["member-root"]!): 'member-root' and 'member' lines exclude each other")
        default:
            break
        }
        self.host = host
        self.port = port
        certificate = values["certificate"]![0]
        privateKey = values["private-key"]![0]
        homeAuthority = values["home-ca"]![0]
        policy = values["policy"]![0]
        members = values["member"] ?? []
        memberRoot = values["member-root"]?.first
        disksSocket = values["disks-socket"]?.first
        keysSocket = values["keys-socket"]?.first
        storagePublicKey = values["storage-public-key"]?.first ?? ""
        journalKey = values["journal-key"]?.first ?? ""
        signingKey = values["signing-key"]?.first ?? ""
        applianceName = values["appliance-name"]![0]
        denyList = values["deny-list"]?.first
        metricsSocket = values["metrics-socket"]?.first
        metricsReaderUIDs = Set((values["metrics-reader-uid"] ?? []).compactMap { UInt32($0) })
        self.text = text
    }
}

/// A mistake in a configuration file, or a file it names, with the file and line.
public struct ConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// `file:line: what is wrong`.
    public let description: String

    /// Creates an error.
    public init(_ description: String) {
        self.description = description
    }
}

extension StringProtocol {
    fileprivate var trimmingWhitespace: String {
        var text = Substring(self)
        while let first = text.first, first == " " || first == "\t" || first == "\r" { text.removeFirst() }
        while let last = text.last, last == " " || last == "\t" || last == "\r" { text.removeLast() }
        return String(text)
    }
}
