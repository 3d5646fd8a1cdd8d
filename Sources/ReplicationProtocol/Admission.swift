/// The size of the unauthenticated connections' pool (``HandshakePool``) and its share per address.
public struct HandshakePoolLimits: Sendable {
    /// Handshaking connections held at once.
    public var capacity: Int
    /// Handshaking connections held at once from one source address.
    public var perAddress: Int
    /// How long a handshaking connection is safe from being pushed out by a newcomer.
    public var evictableAfter: Duration

    /// Creates limits: 128 handshaking connections, 16 per address, safe for 2 s.
    public init(capacity: Int = 128, perAddress: Int = 16, evictableAfter: Duration = .seconds(2)) {
        precondition(capacity > 0 && perAddress > 0 && evictableAfter >= .zero)
        self.capacity = capacity
        self.perAddress = perAddress
        self.evictableAfter = evictableAfter
    }
}

/// Which new connections the appliance takes on while they are still unauthenticated, as a pure state machine.
///
/// A connection is *handshaking* from its accept until its TLS handshake completes (or it closes). Handshaking
/// connections have a small pool of their own, separate from the authenticated connections' places, and each
/// source address may hold only a few of them: a flood of idle TCP connections then costs the appliance at most
/// the pool's sockets and TLS states, never the places of senders who complete the handshake. When the pool is
/// full, a newcomer takes the place of the oldest connection that has sent nothing yet, whatever its age: a TLS
/// client sends its hello as soon as it is connected, so a silent connection is no handshake in progress, and an
/// honest client, the newest, is the last of the silent ones to go. Where every connection has spoken, the newcomer
/// takes the place of the oldest that has had at least ``HandshakePoolLimits/evictableAfter`` to finish its
/// handshake (even an intercontinental handshake takes well under a second). So idle connections, from however many
/// addresses, are pushed out by whoever arrives, and a flood of fresh connections cannot push out a handshake in
/// progress. The shell closes what the decisions say; time is injected.
public struct HandshakePool<ID: Hashable> {
    /// What to do with a connection just accepted.
    public enum Decision: Equatable {
        /// Keep it; it is handshaking now.
        case admit
        /// Keep it, and close `ID`, the handshaking connection whose place it takes.
        case admitEvicting(ID)
        /// Close it at once: its address holds ``HandshakePoolLimits/perAddress`` handshaking connections already.
        case refuseAddressFull
        /// Close it at once: the pool is full of handshakes younger than ``HandshakePoolLimits/evictableAfter``.
        case refusePoolFull
    }

    private struct Entry {
        var address: String
        var since: Duration
        /// Whether the connection has sent its first bytes (the start of its TLS handshake).
        var spoke = false
    }

    /// The limits the decisions apply.
    public let limits: HandshakePoolLimits
    private var entries: [ID: Entry] = [:]
    private var perAddress: [String: Int] = [:]

    /// An empty pool.
    public init(limits: HandshakePoolLimits = HandshakePoolLimits()) {
        self.limits = limits
    }

    /// Connections handshaking now.
    public var count: Int { entries.count }

    /// A connection from `address` was accepted at `now` (a monotonic time from any fixed origin).
    public mutating func accepted(_ id: ID, from address: String, at now: Duration) -> Decision {
        guard perAddress[address, default: 0] < limits.perAddress else { return .refuseAddressFull }
        var decision = Decision.admit
        if entries.count >= limits.capacity {
            let byAge = { (a: (key: ID, value: Entry), b: (key: ID, value: Entry)) in a.value.since < b.value.since }
            let evicted: ID
            if let silent = entries.filter({ !$0.value.spoke }).min(by: byAge) {
                evicted = silent.key
            } else if let oldest = entries.min(by: byAge), now - oldest.value.since >= limits.evictableAfter {
                evicted = oldest.key
            } else {
                return .refusePoolFull
            }
            remove(evicted)
            decision = .admitEvicting(evicted)
        }
        entries[id] = Entry(address: address, since: now)
        perAddress[address, default: 0] += 1
        return decision
    }

    /// The connection sent its first bytes: from now on it is a handshake in progress, safe from newcomers for
    /// ``HandshakePoolLimits/evictableAfter``.
    public mutating func spoke(_ id: ID) {
        entries[id]?.spoke = true
    }

    /// The connection's TLS handshake completed: it leaves the pool for the authenticated connections' places.
    public mutating func handshakeCompleted(_ id: ID) {
        remove(id)
    }

    /// The connection closed (if it was still handshaking, its place is free).
    public mutating func closed(_ id: ID) {
        remove(id)
    }

    private mutating func remove(_ id: ID) {
        guard let entry = entries.removeValue(forKey: id) else { return }
        perAddress[entry.address, default: 1] -= 1
        if perAddress[entry.address] == 0 { perAddress[entry.address] = nil }
    }
}

extension HandshakePool: Sendable where ID: Sendable {}

/// How many streams are open (for append or for a restore), in total and per certificate identity, as a pure
/// counter.
///
/// Each open stream pins up to one segment of memory (an appender's open segment, a reader's current segment: 8 MiB
/// with the default geometry) for as long as it is open, whether or not its client goes on: this bounds that by
/// ``Limits/total`` segments, and one identity's share by ``Limits/perIdentity``, so a sender holding many
/// streams open cannot take the places of the others.
public struct StreamSlots: Sendable {
    /// The caps.
    public struct Limits: Sendable, Equatable {
        /// Streams open at once, over all identities.
        public var total: Int
        /// Streams open at once by one identity.
        public var perIdentity: Int

        /// Creates caps: 16 streams in total, 12 per identity (with 8 MiB segments, 128 MiB and 96 MiB pinned), so
        /// one identity leaves a quarter of the places to the others.
        public init(total: Int = 16, perIdentity: Int = 12) {
            precondition(total > 0 && perIdentity > 0)
            self.total = total
            self.perIdentity = perIdentity
        }
    }

    /// Why a stream could not be opened.
    public enum Refusal: Error, Equatable, Sendable, CustomStringConvertible {
        /// All ``Limits/total`` places are taken.
        case totalFull(Int)
        /// The identity holds ``Limits/perIdentity`` places already.
        case identityFull(String, Int)

        /// A sentence for the error frame.
        public var description: String {
            switch self {
            case .totalFull(let limit):
                return "the appliance has \(limit) streams open, as many as it allows; retry later"
            case .identityFull(let identity, let limit):
                return "the certificate '\(identity)' has \(limit) streams open, as many as one "
                    + "identity may; close one or retry later"
            }
        }
    }

    /// The caps the decisions apply.
    public let limits: Limits
    private var byIdentity: [String: Int] = [:]
    /// Places taken now.
    public private(set) var taken = 0

    /// No stream open.
    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Takes a place for `identity`, or says why not.
    public mutating func take(for identity: String) -> Refusal? {
        if taken >= limits.total { return .totalFull(limits.total) }
        if byIdentity[identity, default: 0] >= limits.perIdentity {
            return .identityFull(identity, limits.perIdentity)
        }
        taken += 1
        byIdentity[identity, default: 0] += 1
        return nil
    }

    /// Gives back a place `identity` took.
    public mutating func give(for identity: String) {
        guard let held = byIdentity[identity], held > 0 else {
            preconditionFailure("'\(identity)' gives back a place it does not hold")
        }
        byIdentity[identity] = held == 1 ? nil : held - 1
        taken -= 1
    }
}

/// A token bucket: at most ``capacity`` events at once, and one more every ``interval`` after that. Time is
/// injected, as a monotonic duration from any fixed origin.
public struct TokenBucket: Sendable {
    /// The most tokens held (the largest burst).
    public let capacity: Int
    /// The time one token takes to come back.
    public let interval: Duration
    private var tokens: Int
    private var lastRefill: Duration?

    /// A full bucket.
    public init(capacity: Int, interval: Duration) {
        precondition(capacity > 0 && interval > .zero)
        self.capacity = capacity
        self.interval = interval
        tokens = capacity
    }

    /// Takes a token at `now`; false when none is left.
    public mutating func take(at now: Duration) -> Bool {
        if let lastRefill {
            if now > lastRefill {
                let earned = Int((now - lastRefill) / interval)
                if earned >= capacity - tokens {
                    tokens = capacity
                    self.lastRefill = now
                } else if earned > 0 {
                    tokens += earned
                    self.lastRefill = lastRefill + interval * earned
                }
            }
        } else {
            lastRefill = now
        }
        guard tokens > 0 else { return false }
        tokens -= 1
        return true
    }
}
