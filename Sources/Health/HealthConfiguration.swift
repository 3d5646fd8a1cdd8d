import ConfigurationFile

/// The configuration of `saatkond health`, parsed from a file of `key = value` lines.
///
///     # attestation reports and metrics for home, over mutual TLS
///     listen = 0.0.0.0:7445
///     certificate = /etc/saatkond/tls/appliance.pem
///     private-key = /etc/saatkond/tls/appliance-key.pem
///     verifier-ca = /etc/saatkond/tls/home-verifier-ca.pem  (the CA of home's verifiers: any certificate it
///                                                          issued may ask for reports and metrics)
///     keys-socket = /run/saatkond/keys.sock      (reports and heartbeats, made and signed there: this service is a
///                                                 `reporter-uid`, and nothing more, of the keys service)
///     disks-socket = /run/saatkond/disks.sock    (optional: figures for /metrics, custody-log excerpts for /audit,
///                                                 and this service's watchdog history; a `reader-uid` and a
///                                                 `recorder` there)
///     ingest-metrics-socket = /run/saatkond-ingest/metrics.sock  (optional: replication and storage figures for
///                                                 /metrics; a `metrics-reader-uid` of ingest)
///     heartbeat = https://watch.home.example:9443/heartbeat   (repeatable: home's `saatkond watch` endpoints)
///     heartbeat-every = 30                       (seconds between heartbeats)
///     home-ca = /etc/saatkond/tls/home-ca.pem    (the CA of the watch's server certificate; with `heartbeat`)
///     heartbeat-certificate = /etc/saatkond/tls/appliance-client.pem   (optional: the client certificate the
///     heartbeat-private-key = /etc/saatkond/tls/appliance-client-key.pem  heartbeats present; else `certificate`)
public struct HealthConfiguration: Sendable, Hashable {
    public var host: String
    public var port: Int
    public var certificate: String
    public var privateKey: String
    public var verifierAuthority: String
    public var keysSocket: String
    public var disksSocket: String?
    /// Ingest's metrics socket, whose text `/metrics` serves after its own.
    public var ingestMetricsSocket: String?
    /// Where heartbeats go; none sends none.
    public var heartbeats: [String] = []
    /// Seconds between heartbeats.
    public var heartbeatEvery = 30
    /// The CA that issued the watch's server certificate.
    public var homeAuthority: String?
    /// The client identity heartbeats present (``certificate`` and ``privateKey`` when not set).
    public var heartbeatCertificate: String?
    public var heartbeatPrivateKey: String?
    /// The file's text, whose SHA-256 the service's start records in the custody log (a changed configuration is an
    /// event).
    public var text: String?

    private static let known: Set<String> = [
        "listen", "certificate", "private-key", "verifier-ca", "keys-socket", "disks-socket", "heartbeat",
        "heartbeat-every", "home-ca", "heartbeat-certificate", "heartbeat-private-key", "ingest-metrics-socket",
    ]

    public init(
        host: String, port: Int, certificate: String, privateKey: String, verifierAuthority: String,
        keysSocket: String, disksSocket: String? = nil
    ) {
        self.host = host
        self.port = port
        self.certificate = certificate
        self.privateKey = privateKey
        self.verifierAuthority = verifierAuthority
        self.keysSocket = keysSocket
        self.disksSocket = disksSocket
    }

    /// Parses `text`, read from `file`.
    public init(parsing text: String, file: String) throws(ConfigurationFileError) {
        let values = try ConfigurationFile(parsing: text, file: file, known: Self.known, repeatable: ["heartbeat"])
        let (host, port) = try values.address(try values.required("listen"), key: "listen")
        self.init(
            host: host, port: port, certificate: try values.required("certificate").value,
            privateKey: try values.required("private-key").value,
            verifierAuthority: try values.required("verifier-ca").value,
            keysSocket: try values.required("keys-socket").value, disksSocket: values.optional("disks-socket")?.value)
        ingestMetricsSocket = values.optional("ingest-metrics-socket")?.value
        heartbeats = values.all("heartbeat").map(\.value)
        for entry in values.all("heartbeat") where !entry.value.hasPrefix("https://") {
            throw values.mistake(entry, "a heartbeat endpoint is an https:// URL, found '\(entry.value)'")
        }
        if let every = values.optional("heartbeat-every") {
            heartbeatEvery = try values.number(every, key: "heartbeat-every", in: 1...3600)
        }
        homeAuthority = values.optional("home-ca")?.value
        if !heartbeats.isEmpty && homeAuthority == nil {
            throw ConfigurationFileError("\(file): 'heartbeat' needs 'home-ca', the CA of the watch's certificate")
        }
        heartbeatCertificate = values.optional("heartbeat-certificate")?.value
        heartbeatPrivateKey = values.optional("heartbeat-private-key")?.value
        guard (heartbeatCertificate == nil) == (heartbeatPrivateKey == nil) else {
            throw ConfigurationFileError(
                "\(file): 'heartbeat-certificate' and 'heartbeat-private-key' are given together or not at all")
        }
        self.text = text
    }
}
