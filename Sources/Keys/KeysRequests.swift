import Attestation
import CryptoPrimitives
import HPKE
import HashChain
import LocalControl
import Logging
import NIOPosix
import Receipts
import StoreFormat
import TPM2

/// Answers the keys socket's requests (docs/keys.md): the socket has already checked the caller's uid against the
/// operation (``KeysAccess``); this checks the state and the request's fields, and runs it.
struct KeysRequests: Sendable {
    let holder: KeyHolder
    let files: KeysStateFiles
    let decommission: DecommissionPolicy?
    let signing: SigningRoles
    let audit: AuditTrail
    /// Reports made here, from the holder's key and the services' facts; nil where none are configured.
    var reports: ReportMaking? = nil
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
                audit.record("storage-keys-given", ["uid": "\(request.peer.uid)", "pid": "\(request.peer.pid)"])
                return LocalReply(
                    ["storage-public-key": .string(Hex.encode(publicKey.rawRepresentation)), "secret": "journal-key"],
                    secret: journalKey)
            case .unwrap:
                return await unwrap(request)
            case .sign:
                guard let hex = request.body["message"]?.stringValue, let message = Hex.decode(hex),
                    !message.isEmpty, message.count <= Self.maximumMessageBytes
                else {
                    return LocalReply([
                        "error": .string("\"message\" must be 1…\(Self.maximumMessageBytes) bytes in hexadecimal")
                    ])
                }
                if let refusal = signing.refusal(of: message, uid: request.peer.uid) {
                    audit.record("sign-refused", ["uid": "\(request.peer.uid)", "reason": refusal])
                    return LocalReply(["error": .string(refusal), "refused": true])
                }
                let signature = try await Blocking.run { try holder.sign(message) }
                return LocalReply([
                    "signature": .string(Hex.encode(signature)),
                    "key": .string(holder.signingPublicKey.map(ReceiptKeyID.of) ?? ""),
                ])
            case .quote:
                guard let hex = request.body["nonce"]?.stringValue, let nonce = Hex.decode(hex),
                    (1...TPMConnection.maximumNonceByteCount).contains(nonce.count)
                else {
                    return LocalReply([
                        "error": .string(
                            "\"nonce\" must be 1…\(TPMConnection.maximumNonceByteCount) bytes in hexadecimal")
                    ])
                }
                let evidence = try await Blocking.run { try holder.quote(nonce: nonce) }
                var values: [String: JSONValue] = [:]
                for (index, value) in evidence.values { values["\(index)"] = .string(Hex.encode(value)) }
                return LocalReply([
                    "attest": .string(Hex.encode(evidence.attest)),
                    "signature": .string(Hex.encode(evidence.signature)),
                    "pcrs": .string(evidence.pcrs.description), "values": .object(values),
                ])
            case .report, .heartbeat:
                return try await report(operation, request.body)
            case .decommission:
                guard let decommission else {
                    return LocalReply(["error": "this appliance has no decommission keys configured"])
                }
                let order: DecommissionPolicy.Order
                do {
                    order = try decommission.check(request.body, storagePublicKey: holder.storagePublicKey)
                } catch {
                    audit.record("decommission-refused", ["uid": "\(request.peer.uid)", "reason": "\(error)"])
                    throw error
                }
                audit.record("decommission-accepted", ["uid": "\(request.peer.uid)", "order": order.summary])
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

    /// A report for `{"nonce": HEX, "streams": [NAME…]}`, or a heartbeat for `{"sequence": N}`: the facts gathered
    /// from the other services' sockets, the quote, the claims and the signature, all here, so that the caller
    /// (the network-facing health service) never has a statement of its own signed.
    private func report(_ operation: KeysOperation, _ body: [String: JSONValue]) async throws -> LocalReply {
        guard let reports else { return LocalReply(["error": "this keys service makes no reports"]) }
        let token: CompactJWS
        if operation == .report {
            guard let hex = body["nonce"]?.stringValue, let nonce = Hex.decode(hex.lowercased()),
                (1...AttestationReporter.maximumNonceByteCount).contains(nonce.count)
            else {
                return LocalReply([
                    "error": .string(
                        "\"nonce\" must be 1…\(AttestationReporter.maximumNonceByteCount) bytes in hexadecimal")
                ])
            }
            var streams: [String] = []
            if case .array(let values)? = body["streams"] {
                streams = values.compactMap(\.stringValue)
                guard streams.count == values.count, streams.count <= ApplianceFactsSource.maximumStreams else {
                    return LocalReply([
                        "error": .string(
                            "\"streams\" must be at most \(ApplianceFactsSource.maximumStreams) stream names")
                    ])
                }
            }
            let named = streams
            let facts = try await reports.gathering.runIfActive { reports.facts.gather(streams: named) }
            token = try await Blocking.run { try reports.reporter.report(nonce: nonce, facts: facts) }
        } else {
            guard let sequence = body["sequence"]?.integerValue, sequence > 0 else {
                return LocalReply(["error": "\"sequence\" must be a positive number"])
            }
            let facts = try await reports.gathering.runIfActive { reports.facts.gather() }
            token = try await Blocking.run { try reports.reporter.heartbeat(sequence: UInt64(sequence), facts: facts) }
        }
        return LocalReply(["token": .string(token.compact)])
    }

    /// Unwraps one segment key. Only a wrapping that does not open is answered `"corrupt": true` (the segment's
    /// header lies); anything else — the keys locked or zeroized meanwhile, a malformed request, a service shutting
    /// down — says nothing about the segment, and a reader must not blame its shards for it.
    private func unwrap(_ request: LocalRequest) async -> LocalReply {
        let wrapped: WrappedSegmentKey
        do {
            wrapped = try Self.wrappedKey(request.body)
        } catch {
            return LocalReply(["error": .string("\(error)")])
        }
        do {
            // An X25519 agreement and an AEAD open, tens of microseconds: not worth a hop to the blocking pool,
            // which costs as much (`scripts/bench keys` measures the round trip).
            let key = try holder.unwrap(wrapped)
            return LocalReply(["secret": "data-key"], secret: key)
        } catch let error as SegmentKeyUnavailable {
            return LocalReply(["error": .string(error.description), "state": .string(holder.state.name)])
        } catch let error as HPKEError {
            return LocalReply(["error": .string("\(error)"), "corrupt": true])
        } catch {
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
        let wrapped = WrappedSegmentKey(
            stream: stream, segment: UInt64(segment), encapsulatedKey: try bytes("encapsulated-key", 32...32),
            ciphertext: try bytes("wrapped-key", 48...48), description: try bytes("description", 1...4096))
        guard let described = wrapped.describedSegment else {
            throw KeysError("\"description\" is not a segment description")
        }
        guard described.stream == wrapped.stream, described.segment == wrapped.segment else {
            throw KeysError(
                "the request names segment \(segment) of \(stream), the wrapped key is of segment "
                    + "\(described.segment) of \(described.stream)")
        }
        return wrapped
    }
}

/// What reports are made of here: the reporter (the holder's key and quote), where the facts come from, and the
/// threads that wait for them — their own, so that a service slow to answer holds up no signature of a receipt.
struct ReportMaking: Sendable {
    let reporter: AttestationReporter
    let facts: ApplianceFactsSource
    let gathering: NIOThreadPool

    /// Reports gathered at once: the health service asks for at most two.
    static let threads = 2
}

/// Who may have what signed. The signing key signs receipts for ingest and reports for the health service; so that
/// neither can pass off the other's statements, a message that begins with a receipt's label is signed only for a
/// receipt signer (ingest), and any other message only for the other signers. Root may have both.
public struct SigningRoles: Sendable {
    public var receiptSigners: Set<UInt32>
    public var otherSigners: Set<UInt32>

    public init(receiptSigners: Set<UInt32>, otherSigners: Set<UInt32>) {
        self.receiptSigners = receiptSigners
        self.otherSigners = otherSigners
    }

    static let receiptLabel = Array("saatkond receipt".utf8)

    func refusal(of message: [UInt8], uid: UInt32) -> String? {
        guard uid != 0 else { return nil }
        if message.starts(with: Self.receiptLabel) {
            return receiptSigners.contains(uid) ? nil : "uid \(uid) may not have receipts signed"
        }
        return otherSigners.contains(uid) ? nil : "uid \(uid) may have receipts signed, nothing else"
    }
}

/// The operations each configured user may ask; root may ask all (LocalAccess).
enum KeysAccess {
    static func rules(_ configuration: KeysConfiguration) -> LocalAccess {
        let everyone = configuration.ingestUIDs.union(configuration.readerUIDs).union(configuration.signerUIDs)
            .union(configuration.consoleUIDs).union(configuration.reporterUIDs)
        return LocalAccess(rules: [
            KeysOperation.status.rawValue: everyone,
            // A reader reads open tails too: the journal key, which ingest holds anyway, is no more than it needs.
            KeysOperation.storageKeys.rawValue: configuration.ingestUIDs.union(configuration.readerUIDs),
            KeysOperation.unwrap.rawValue: configuration.readerUIDs,
            KeysOperation.sign.rawValue: configuration.ingestUIDs.union(configuration.signerUIDs),
            KeysOperation.decommission.rawValue: configuration.consoleUIDs,
            KeysOperation.quote.rawValue: configuration.signerUIDs,
            KeysOperation.report.rawValue: configuration.reporterUIDs,
            KeysOperation.heartbeat.rawValue: configuration.reporterUIDs,
        ])
    }
}
