import ConfigurationFile

/// The configuration of `saatkond reader`, parsed from a file of `key = value` lines.
///
///     # restores and listings for home, on a port of their own
///     listen = 0.0.0.0:7444
///     certificate = /etc/saatkond/tls/appliance.pem
///     private-key = /etc/saatkond/tls/appliance-key.pem
///     home-ca = /etc/saatkond/tls/home-ca.pem
///     policy = /etc/saatkond/authorization.conf   (ingest's: its read grants decide who restores what)
///     deny-list = /etc/saatkond/revoked.conf       (optional; both reloaded on SIGHUP)
///     member-root = /srv/saatkond/members          (or one `member = DIR` line per member)
///     keys-socket = /run/saatkond/keys.sock        (required: every segment key is unwrapped there)
///     state-socket = /run/saatkond-reader/reader.sock  (optional: named streams' lengths and heads, for the health
///     state-reader-uid = 994                        service's reports; repeatable, the uids that may ask)
///     disks-socket = /run/saatkond/disks.sock       (optional: where its watchdog history is recorded; a `recorder`)
///
/// There is no key file: the reader gets the journal key from the keys service, and each committed segment's data
/// key unwrapped there, one at a time, as its uid (`reader-uid` in the keys configuration) may ask. It opens the
/// members read-only, as a user in ingest's group (the members' files are group-readable, never group-writable).
public struct ReaderConfiguration: Sendable, Hashable {
    /// Where to listen.
    public var host: String
    /// The port.
    public var port: Int
    /// The appliance's TLS certificate chain (PEM).
    public var certificate: String
    /// Its private key (PEM).
    public var privateKey: String
    /// The home CA whose certificates readers must present (PEM).
    public var homeAuthority: String
    /// The authorization policy file.
    public var policy: String
    /// The deny list of revoked certificates, if one is configured.
    public var denyList: String?
    /// The array's member directories (none when ``memberRoot`` is set).
    public var members: [String]
    /// The directory whose subdirectories are the members.
    public var memberRoot: String?
    /// The keys service's socket.
    public var keysSocket: String
    /// The local socket that answers named streams' state, if any.
    public var stateSocket: String?
    /// Who may ask it (root always may).
    public var stateReaderUIDs: Set<UInt32> = []
    /// The disks service's socket, where the reader's starts, stops and watchdog changes are recorded.
    public var disksSocket: String?
    /// The file's text, whose SHA-256 the service's start records in the custody log (a changed configuration is an
    /// event).
    public var text: String?

    private static let known: Set<String> = [
        "listen", "certificate", "private-key", "home-ca", "policy", "deny-list", "member", "member-root",
        "keys-socket", "state-socket", "state-reader-uid", "disks-socket",
    ]

    /// Parses `text`, read from `file`.
    public init(parsing text: String, file: String) throws(ConfigurationFileError) {
        let values = try ConfigurationFile(
            parsing: text, file: file, known: Self.known, repeatable: ["member", "state-reader-uid"])
        (host, port) = try values.address(try values.required("listen"), key: "listen")
        certificate = try values.required("certificate").value
        privateKey = try values.required("private-key").value
        homeAuthority = try values.required("home-ca").value
        policy = try values.required("policy").value
        denyList = values.optional("deny-list")?.value
        keysSocket = try values.required("keys-socket").value
        stateSocket = values.optional("state-socket")?.value
        disksSocket = values.optional("disks-socket")?.value
        for entry in values.all("state-reader-uid") {
            stateReaderUIDs.insert(try values.identifier(entry, key: "state-reader-uid"))
        }
        members = values.all("member").map(\.value)
        memberRoot = values.optional("member-root")?.value
        switch (members.isEmpty, memberRoot) {
        case (true, nil):
            throw ConfigurationFileError("\(file): neither 'member' nor 'member-root' is set: where is the array?")
        case (false, .some):
            throw values.mistake(values.optional("member-root")!, "'member-root' and 'member' lines exclude each other")
        default:
            break
        }
        self.text = text
    }
}
