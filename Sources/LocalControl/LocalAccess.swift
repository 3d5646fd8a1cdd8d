import CryptoPrimitives

/// The credentials of the process at the other end of a local socket, as the kernel gives them (SO_PEERCRED): what
/// it was when it connected, which it cannot forge.
public struct PeerCredentials: Sendable, Hashable {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32

    public init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }
}

/// One request on a local control socket: its operation, the rest of its JSON object, and who sent it.
public struct LocalRequest: Sendable {
    /// The request's `op`.
    public var op: String
    /// The request's other members (without `op`).
    public var body: [String: JSONValue]
    /// Who sent it.
    public var peer: PeerCredentials

    public init(op: String, body: [String: JSONValue], peer: PeerCredentials) {
        self.op = op
        self.body = body
        self.peer = peer
    }
}

/// Who may ask what on a local control socket: for each operation, the uids allowed to ask it; `"*"` lists uids
/// allowed every operation. Root (uid 0) is always allowed. Everyone else is refused.
public struct LocalAccess: Sendable {
    /// Operation (or `"*"`) → the uids allowed.
    public let rules: [String: Set<UInt32>]

    public init(rules: [String: Set<UInt32>]) {
        self.rules = rules
    }

    /// The operations the rules name (without `"*"`).
    public var operations: Set<String> {
        Set(rules.keys).subtracting(["*"])
    }

    /// Whether `uid` may ask `op`.
    public func allows(_ op: String, uid: UInt32) -> Bool {
        uid == 0 || rules[op]?.contains(uid) == true || rules["*"]?.contains(uid) == true
    }
}

/// A service's answer to one request: a JSON object and, for the keys service, a secret sent raw after the JSON line
/// (never inside it, so that it never becomes a string that cannot be wiped). The line then says `"secret-bytes": N`
/// and N bytes follow; ``LocalControlClient/requestSecret(path:op:body:timeout:)`` reads them into `SecretBytes`.
public struct LocalReply: Sendable {
    /// The JSON object.
    public var fields: [String: JSONValue]
    /// The secret that follows it, if any.
    public var secret: SecretBytes?

    /// A reply of `fields`, with `secret` after them.
    public init(_ fields: [String: JSONValue], secret: SecretBytes? = nil) {
        self.fields = fields
        self.secret = secret
    }
}
