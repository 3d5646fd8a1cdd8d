import CryptoPrimitives
import HashChain
import LocalControl
import Logging
import Receipts
import StoreFormat

/// Answers the keys socket's requests (docs/keys.md): the socket has already checked the caller's uid against the
/// operation (``KeysAccess``); this checks the state and the request's fields, and runs it.
struct KeysRequests: Sendable {
    let holder: KeyHolder
    let files: KeysStateFiles
    let decommission: DecommissionPolicy?
    let logger: Logger

    /// The longest message the signing key signs: receipts and reports are far shorter.
    static let maximumMessageBytes = 16 * 1024

    func answer(_ request: LocalRequest) async -> LocalReply {
        guard let operation = KeysOperation(rawValue: request.op) else {
            return LocalReply(["error": .string("unknown op")])
        }
        if let refusal = holder.refusal(of: operation) {
            return LocalReply(["error": .string(refusal), "state": .string(holder.state.name)])
        }
        do {
            switch operation {
            case .status:
                return LocalReply(status())
            case .storageKeys:
                let (publicKey, journalKey) = try holder.storageKeys()
                return LocalReply(
                    ["storage-public-key": .string(Hex.encode(publicKey.rawRepresentation)), "secret": "journal-key"],
                    secret: journalKey)
            case .unwrap:
                let wrapped = try Self.wrappedKey(request.body)
                let key = try await Blocking.run { try holder.unwrap(wrapped) }
                return LocalReply(["secret": "data-key"], secret: key)
            case .sign:
                guard let hex = request.body["message"]?.stringValue, let message = Hex.decode(hex),
                    !message.isEmpty, message.count <= Self.maximumMessageBytes
                else {
                    return LocalReply([
                        "error": .string("\"message\" must be 1…\(Self.maximumMessageBytes) bytes in hexadecimal")
                    ])
                }
                let signature = try await Blocking.run { try holder.sign(message) }
                return LocalReply([
                    "signature": .string(Hex.encode(signature)),
                    "key": .string(holder.signingPublicKey.map(ReceiptKeyID.of) ?? ""),
                ])
            case .decommission:
                guard let decommission else {
                    return LocalReply(["error": "this appliance has no decommission keys configured"])
                }
                let order = try decommission.check(request.body)
                try await Blocking.run {
                    try holder.zeroize(reason: "decommission order: \(order.summary)", files: files)
                }
                return LocalReply(["state": .string(holder.state.name)])
            }
        } catch {
            logger.notice(
                "keys request failed",
                metadata: ["op": "\(request.op)", "uid": "\(request.peer.uid)", "error": "\(error)"])
            return LocalReply(["error": .string("\(error)")])
        }
    }

    func status() -> [String: JSONValue] {
        var fields: [String: JSONValue] = [
            "state": .string(holder.state.name), "vault": .string(holder.vault.kind),
        ]
        if let reason = holder.state.reason { fields["reason"] = .string(reason) }
        if let key = holder.storagePublicKey {
            fields["storage-public-key"] = .string(Hex.encode(key.rawRepresentation))
        }
        if let key = holder.signingPublicKey {
            fields["signing-key"] = .string(ReceiptKeyID.of(key))
            fields["signing-public-key"] = .string(key.pemRepresentation)
        }
        return fields
    }

    static func wrappedKey(_ body: [String: JSONValue]) throws -> WrappedSegmentKey {
        func bytes(_ key: String, _ range: ClosedRange<Int>) throws -> [UInt8] {
            guard let hex = body[key]?.stringValue, let value = Hex.decode(hex), range.contains(value.count) else {
                throw KeysError("\"\(key)\" must be \(range.lowerBound)…\(range.upperBound) bytes in hexadecimal")
            }
            return value
        }
        guard let stream = body["stream"]?.stringValue, let segment = body["segment"]?.integerValue, segment >= 0 else {
            throw KeysError("an unwrap names its \"stream\" and \"segment\"")
        }
        return WrappedSegmentKey(
            stream: stream, segment: UInt64(segment), encapsulatedKey: try bytes("encapsulated-key", 32...32),
            ciphertext: try bytes("wrapped-key", 48...48), description: try bytes("description", 1...4096))
    }
}

/// The operations each configured user may ask; root may ask all (LocalAccess).
enum KeysAccess {
    static func rules(_ configuration: KeysConfiguration) -> LocalAccess {
        let everyone = configuration.ingestUIDs.union(configuration.readerUIDs).union(configuration.signerUIDs)
            .union(configuration.consoleUIDs)
        return LocalAccess(rules: [
            KeysOperation.status.rawValue: everyone,
            KeysOperation.storageKeys.rawValue: configuration.ingestUIDs,
            KeysOperation.unwrap.rawValue: configuration.readerUIDs,
            KeysOperation.sign.rawValue: configuration.ingestUIDs.union(configuration.signerUIDs),
            KeysOperation.decommission.rawValue: configuration.consoleUIDs,
        ])
    }
}
