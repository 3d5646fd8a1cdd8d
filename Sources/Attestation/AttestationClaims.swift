/// The claims of an attestation report: an Entity Attestation Token (RFC 9711) in a JWT. Claims RFC 9711 names
/// carry its names (`eat_nonce`, `ueid`, `iat`, `swname`, `swversion`, `bootcount`, `bootseed`, `uptime`,
/// `submods`); the appliance's own are in submodules, each a claims-set of its own: `tpm` (the quote), `keys`,
/// `array`, `disks`, `streams`, `watchdog`, `audit`. A heartbeat is the same claims without the quote.
public struct AttestationClaims: Codable, Sendable, Hashable {
    /// The verifier's nonce, base64url (`eat_nonce`); a heartbeat has a counter of its own instead.
    public var nonce: String
    /// The appliance's universal entity id, base64url (`ueid`): type 0x01 (random) and the SHA-256 of its signing
    /// key's point, so a verifier holding the key knows the id.
    public var ueid: String
    /// When the report was made, seconds since 1970 (`iat`).
    public var issuedAt: Int64
    /// `saatkond` (`swname`).
    public var softwareName: String
    /// The version (`swversion`: the version, in RFC 9711's array form).
    public var softwareVersion: [String]
    /// The TPM's reset count: boots (`bootcount`).
    public var bootCount: Int64?
    /// The kernel's boot id, base64url (`bootseed`): differs on every boot.
    public var bootSeed: String?
    /// Seconds since boot (`uptime`).
    public var uptime: Int64?
    /// The appliance's name, as receipts give it.
    public var appliance: String
    /// The SHA-256 of the running executable, hexadecimal: which build this is.
    public var buildDigest: String
    /// The appliance's parts.
    public var submods: Submodules

    enum CodingKeys: String, CodingKey {
        case nonce = "eat_nonce"
        case ueid
        case issuedAt = "iat"
        case softwareName = "swname"
        case softwareVersion = "swversion"
        case bootCount = "bootcount"
        case bootSeed = "bootseed"
        case uptime
        case appliance
        case buildDigest = "build_digest"
        case submods
    }

    public init(
        nonce: String, ueid: String, issuedAt: Int64, softwareName: String = "saatkond", softwareVersion: [String],
        bootCount: Int64? = nil, bootSeed: String? = nil, uptime: Int64? = nil, appliance: String,
        buildDigest: String, submods: Submodules
    ) {
        self.nonce = nonce
        self.ueid = ueid
        self.issuedAt = issuedAt
        self.softwareName = softwareName
        self.softwareVersion = softwareVersion
        self.bootCount = bootCount
        self.bootSeed = bootSeed
        self.uptime = uptime
        self.appliance = appliance
        self.buildDigest = buildDigest
        self.submods = submods
    }

    /// The appliance's parts, each a claims-set (RFC 9711 §4.2.18).
    public struct Submodules: Codable, Sendable, Hashable {
        public var tpm: TPMQuoteClaims?
        public var keys: KeysClaims
        public var array: ArrayClaims?
        public var disks: [String: DiskClaims]?
        public var streams: [String: StreamClaims]?
        public var watchdog: WatchdogClaims?
        public var audit: AuditClaims?

        public init(
            tpm: TPMQuoteClaims? = nil, keys: KeysClaims, array: ArrayClaims? = nil,
            disks: [String: DiskClaims]? = nil, streams: [String: StreamClaims]? = nil,
            watchdog: WatchdogClaims? = nil, audit: AuditClaims? = nil
        ) {
            self.tpm = tpm
            self.keys = keys
            self.array = array
            self.disks = disks
            self.streams = streams
            self.watchdog = watchdog
            self.audit = audit
        }
    }

    /// A TPM quote over the measurements with the report's nonce: the TPMS_ATTEST and its signature (raw r‖s), both
    /// base64url, by the same key that signs the report; the PCRs and their values, hexadecimal.
    public struct TPMQuoteClaims: Codable, Sendable, Hashable {
        public var attest: String
        public var signature: String
        public var pcrs: String
        public var values: [String: String]

        public init(attest: String, signature: String, pcrs: String, values: [String: String]) {
            self.attest = attest
            self.signature = signature
            self.pcrs = pcrs
            self.values = values
        }
    }

    /// The keys service's state: `unsealed`, `locked` (with the reason) or `zeroized`; the signing key's id.
    public struct KeysClaims: Codable, Sendable, Hashable {
        public var state: String
        public var reason: String?
        public var signingKey: String?

        enum CodingKeys: String, CodingKey {
            case state, reason
            case signingKey = "signing_key"
        }

        public init(state: String, reason: String? = nil, signingKey: String? = nil) {
            self.state = state
            self.reason = reason
            self.signingKey = signingKey
        }
    }

    /// The array: data and parity shards, and how many more members it can lose now without losing data.
    public struct ArrayClaims: Codable, Sendable, Hashable {
        public var dataShards: Int
        public var parityShards: Int
        public var margin: Int

        enum CodingKeys: String, CodingKey {
            case dataShards = "k"
            case parityShards = "m"
            case margin
        }

        public init(dataShards: Int, parityShards: Int, margin: Int) {
            self.dataShards = dataShards
            self.parityShards = parityShards
            self.margin = margin
        }
    }

    /// One bay's disk: its identity, lifecycle state and SMART verdict.
    public struct DiskClaims: Codable, Sendable, Hashable {
        public var identity: String?
        public var state: String
        public var smart: String?

        public init(identity: String?, state: String, smart: String?) {
            self.identity = identity
            self.state = state
            self.smart = smart
        }
    }

    /// One stream: its durable length, hash-chain head (hexadecimal) and seconds since its last append.
    public struct StreamClaims: Codable, Sendable, Hashable {
        public var length: UInt64
        public var head: String
        public var idleSeconds: Int64?

        enum CodingKeys: String, CodingKey {
            case length, head
            case idleSeconds = "idle_seconds"
        }

        public init(length: UInt64, head: String, idleSeconds: Int64?) {
            self.length = length
            self.head = head
            self.idleSeconds = idleSeconds
        }
    }

    /// The services' watchdog history, kept across boots in the custody log: runs that ended without stopping
    /// (killed by a watchdog, crashed, cut by a power loss), boots seen, failed checks, and the last reason.
    public struct WatchdogClaims: Codable, Sendable, Hashable {
        public var restarts: Int
        public var lastReason: String?
        public var boots: Int?
        public var checkFailures: Int?

        enum CodingKeys: String, CodingKey {
            case restarts
            case lastReason = "last_reason"
            case boots
            case checkFailures = "check_failures"
        }

        public init(restarts: Int, lastReason: String?, boots: Int? = nil, checkFailures: Int? = nil) {
            self.restarts = restarts
            self.lastReason = lastReason
            self.boots = boots
            self.checkFailures = checkFailures
        }
    }

    /// The audit log's head: its record count, the hash of its last record (hexadecimal), and how many copies of
    /// it (one per member mounted) took its last append.
    public struct AuditClaims: Codable, Sendable, Hashable {
        public var records: Int
        public var head: String
        public var copies: Int?

        public init(records: Int, head: String, copies: Int? = nil) {
            self.records = records
            self.head = head
            self.copies = copies
        }
    }
}
