import ConfigurationFile

/// The configuration of `saatkond watch` (at home), parsed from a file of `key = value` lines.
///
///     listen = 0.0.0.0:9443
///     certificate = /etc/saatkond/watch.pem          (the watch's server certificate)
///     private-key = /etc/saatkond/watch-key.pem
///     appliance-ca = /etc/saatkond/embassy-ca.pem    (the CA of the appliances' client certificates)
///     state = /var/lib/saatkond/watch                (status.json, which `saatkond watch --check` reads)
///     metrics-listen = 127.0.0.1:9464                (optional: Prometheus text over plain HTTP, loopback only)
///     appliance = lu1 /etc/saatkond/lu1-signing.pem 30   (repeatable: name, its attestation public key, period s)
public struct WatchConfiguration: Sendable, Hashable {
    public struct Appliance: Sendable, Hashable {
        public var name: String
        public var publicKey: String
        public var period: Int
    }

    public var host: String
    public var port: Int
    public var certificate: String
    public var privateKey: String
    public var applianceAuthority: String
    public var state: String
    public var metricsHost: String?
    public var metricsPort: Int?
    public var appliances: [Appliance]

    private static let known: Set<String> = [
        "listen", "certificate", "private-key", "appliance-ca", "state", "metrics-listen", "appliance",
    ]

    public init(parsing text: String, file: String) throws(ConfigurationFileError) {
        let values = try ConfigurationFile(parsing: text, file: file, known: Self.known, repeatable: ["appliance"])
        (host, port) = try values.address(try values.required("listen"), key: "listen")
        if let metrics = values.optional("metrics-listen") {
            let (host, port) = try values.address(metrics, key: "metrics-listen")
            guard host == "127.0.0.1" || host == "::1" || host == "localhost" else {
                throw values.mistake(metrics, "metrics are served over plain HTTP: metrics-listen must be loopback")
            }
            (metricsHost, metricsPort) = (host, port)
        }
        certificate = try values.required("certificate").value
        privateKey = try values.required("private-key").value
        applianceAuthority = try values.required("appliance-ca").value
        state = try values.required("state").value
        appliances = []
        for entry in values.all("appliance") {
            let words = entry.value.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard words.count == 3, let period = Int(words[2]), (1...86_400).contains(period) else {
                throw values.mistake(entry, "'appliance' is NAME PUBLIC-KEY-PEM PERIOD-SECONDS, found '\(entry.value)'")
            }
            guard !appliances.contains(where: { $0.name == words[0] }) else {
                throw values.mistake(entry, "the appliance \(words[0]) is named twice")
            }
            appliances.append(Appliance(name: words[0], publicKey: words[1], period: period))
        }
        guard !appliances.isEmpty else { throw ConfigurationFileError("\(file): no 'appliance' is watched") }
    }
}
