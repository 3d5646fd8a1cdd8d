/// Home's dead man's switch, as a pure state machine (`saatkond watch` runs it): it keeps each appliance's last
/// heartbeat and says when one goes silent, goes stale, or reports trouble, and when that ends. Time is given, in
/// seconds since 1970, so that every rule is tested without waiting.
public struct HeartbeatWatch: Sendable {
    /// One appliance home expects heartbeats from.
    public struct Appliance: Sendable, Hashable {
        public var name: String
        /// How often it sends; silent for more than two periods is an alarm.
        public var period: Int64

        public init(name: String, period: Int64) {
            self.name = name
            self.period = period
        }
    }

    /// What the watch knows of one appliance now.
    public struct Status: Sendable, Hashable, Codable {
        public var appliance: String
        /// When its last accepted heartbeat was made (its `iat`), and received.
        public var lastIssued: Int64?
        public var lastReceived: Int64?
        public var lastSequence: UInt64?
        /// Why it is in alarm; nil when it is not.
        public var alarm: String?
    }

    /// A change of alarm, for the log.
    public enum Change: Sendable, Hashable {
        case raised(appliance: String, reason: String)
        case cleared(appliance: String)
    }

    private var appliances: [String: Appliance]
    private var statuses: [String: Status]
    /// When the watch started: an appliance that never sent is silent from then on.
    private let started: Int64

    public init(appliances: [Appliance], now: Int64) {
        self.appliances = Dictionary(uniqueKeysWithValues: appliances.map { ($0.name, $0) })
        statuses = Dictionary(uniqueKeysWithValues: appliances.map { ($0.name, Status(appliance: $0.name)) })
        started = now
    }

    /// Takes the last sequence accepted of each appliance from an earlier run (its status file), so that a heartbeat
    /// recorded before a restart of the watch cannot be replayed after it. Only the sequences: whether an appliance
    /// is silent is judged afresh from this start.
    public mutating func restore(lastSequences: [String: UInt64]) {
        for (appliance, sequence) in lastSequences {
            guard var status = statuses[appliance] else { continue }
            status.lastSequence = max(status.lastSequence ?? 0, sequence)
            statuses[appliance] = status
        }
    }

    /// Every appliance's status, by name.
    public var all: [Status] { statuses.values.sorted { $0.appliance < $1.appliance } }

    /// A heartbeat whose signature verified with `appliance`'s key: refused (with the reason) when it is older than
    /// the last one accepted (a replay) or dated ahead of `now` by more than a period; otherwise kept, with the
    /// trouble it reports (nil when none).
    public mutating func received(
        from appliance: String, sequence: UInt64, issuedAt: Int64, trouble: String?, now: Int64
    ) -> Result<[Change], AttestationError> {
        guard let configured = appliances[appliance], var status = statuses[appliance] else {
            return .failure(AttestationError("no appliance named \(appliance) is watched"))
        }
        if let last = status.lastSequence, sequence <= last {
            return .failure(
                AttestationError("heartbeat \(sequence) of \(appliance) is not newer than \(last): replayed"))
        }
        // Dates far from now are refused before any arithmetic on them: a signed heartbeat may still carry any number.
        guard issuedAt >= 0, issuedAt <= now + configured.period else {
            return .failure(
                AttestationError("the heartbeat of \(appliance) is dated \(issuedAt), not near now (\(now))"))
        }
        status.lastSequence = sequence
        status.lastIssued = issuedAt
        status.lastReceived = now
        statuses[appliance] = status
        return .success(evaluate(appliance, now: now, trouble: trouble))
    }

    /// Looks at every appliance at `now`: the alarms raised and cleared since the last look.
    public mutating func tick(now: Int64) -> [Change] {
        appliances.keys.sorted().flatMap { evaluate($0, now: now, trouble: nil, keepTrouble: true) }
    }

    private var troubles: [String: String] = [:]

    private mutating func evaluate(
        _ name: String, now: Int64, trouble: String?, keepTrouble: Bool = false
    ) -> [Change] {
        guard let appliance = appliances[name], var status = statuses[name] else { return [] }
        if !keepTrouble { troubles[name] = trouble }
        let reason: String?
        let limit = 2 * appliance.period
        if let issued = status.lastIssued, let received = status.lastReceived {
            if now - received > limit {
                reason = "silent: no heartbeat for more than \(limit) s (expected every \(appliance.period) s)"
            } else if received - issued > limit {
                reason = "stale: its last heartbeat was made more than \(limit) s before it arrived"
            } else {
                reason = troubles[name].map { "reports trouble: \($0)" }
            }
        } else {
            reason = now - started > limit ? "silent: no heartbeat since the watch started" : nil
        }
        // Reasons name no changing figure, so that an alarm is said once, not every tick.
        guard reason != status.alarm else { return [] }
        status.alarm = reason
        statuses[name] = status
        return [reason.map { .raised(appliance: name, reason: $0) } ?? .cleared(appliance: name)]
    }
}

extension HeartbeatWatch.Status {
    init(appliance: String) {
        self.appliance = appliance
    }
}

extension AttestationClaims {
    /// What a heartbeat (or report) says is wrong, for the watch: keys that are not unsealed, an array that cannot
    /// lose another disk; nil when nothing is.
    public var trouble: String? {
        var problems: [String] = []
        if submods.keys.state != "unsealed" {
            problems.append("keys \(submods.keys.state)" + (submods.keys.reason.map { " (\($0))" } ?? ""))
        }
        if let array = submods.array, array.margin < 1 {
            problems.append("the array can lose no more disks (\(array.dataShards) + \(array.parityShards))")
        }
        return problems.isEmpty ? nil : problems.joined(separator: "; ")
    }
}

/// A heartbeat's sequence number as its `eat_nonce` carries it: 8 bytes, big-endian.
public enum HeartbeatSequence {
    public static func encode(_ sequence: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: sequence >> (56 - 8 * $0)) }
    }

    public static func decode(_ nonce: String) -> UInt64? {
        guard let bytes = Base64URL.decode(nonce), bytes.count == 8 else { return nil }
        return bytes.reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// The sequence of a heartbeat made at `issuedAt`: the milliseconds since 1970 it was made at, so within a
    /// second or two of its `iat`. A report (whose nonce a verifier chose, and which carries a quote) passed off as
    /// a heartbeat fails this, and cannot push the watch's last sequence out of reach of the real heartbeats.
    public static func sequence(of claims: AttestationClaims) -> UInt64? {
        guard claims.submods.tpm == nil, claims.issuedAt >= 0, let sequence = decode(claims.nonce) else { return nil }
        let seconds = Int64(clamping: sequence / 1000)
        return abs(seconds - claims.issuedAt) <= 2 ? sequence : nil
    }
}
