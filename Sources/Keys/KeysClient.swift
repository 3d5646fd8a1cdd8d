import Attestation
import CryptoPrimitives
import HashChain
import LocalControl
import Logging
import Receipts
import StoreFormat
import TPM2

/// The keys socket as a caller sees it: ingest asks for the storage keys and has receipts signed; a reader has
/// segment keys unwrapped one at a time. One request per connection (docs/local-control.md).
public struct KeysClient: Sendable {
    /// The socket.
    public let socket: String
    /// How long one request may take, the TPM's work included.
    public let timeout: Duration

    public init(socket: String, timeout: Duration = .seconds(10)) {
        self.socket = socket
        self.timeout = timeout
    }

    /// The service's status.
    public func status() throws -> [String: JSONValue] {
        try LocalControlClient.request(path: socket, op: KeysOperation.status.rawValue, body: [:], timeout: timeout)
    }

    /// The storage public key and the journal key (ingest only).
    public func storageKeys() throws -> (publicKey: X25519PublicKey, journalKey: SecretBytes) {
        let (fields, secret) = try LocalControlClient.requestSecret(
            path: socket, op: KeysOperation.storageKeys.rawValue, body: [:], timeout: timeout)
        guard let secret, secret.count == 32, let hex = fields["storage-public-key"]?.stringValue,
            let raw = Hex.decode(hex)
        else {
            throw KeysError("the keys service did not give the storage keys: \(fields["error"]?.stringValue ?? "")")
        }
        return (try X25519PublicKey(rawRepresentation: raw), secret)
    }

    /// The storage keys, waiting for the keys service while it starts (at boot the services start together): up to
    /// a minute while nothing answers on the socket; a refusal is final.
    public func waitForStorageKeys(logger: Logger) async throws -> (publicKey: X25519PublicKey, journalKey: SecretBytes)
    {
        var attempt = 0
        while true {
            do {
                return try storageKeys()
            } catch let error as LocalControlError where !error.refused && attempt < 60 {
                if attempt == 0 {
                    logger.notice(
                        "waiting for the keys service", metadata: ["socket": "\(socket)", "error": "\(error)"])
                }
                attempt += 1
                try await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// Segment keys unwrapped by the keys service.
    public var segmentKeys: any SegmentKeyOpener { SocketSegmentOpener(client: self) }

    /// The signing key behind the socket, for receipts; reads its id once.
    public func signingKey() throws -> any ReceiptSigningKey {
        let fields = try status()
        guard let id = fields["signing-key"]?.stringValue else {
            throw KeysError("the keys service has no signing key: \(fields["reason"]?.stringValue ?? "")")
        }
        return SocketSigningKey(client: self, keyID: id)
    }

    /// A TPM quote of the measurements with `nonce` (1…64 bytes) as its qualifying data (signers only).
    public func quote(nonce: [UInt8]) throws -> QuoteEvidence {
        let fields = try LocalControlClient.request(
            path: socket, op: KeysOperation.quote.rawValue, body: ["nonce": .string(Hex.encode(nonce))],
            timeout: timeout)
        guard let attest = fields["attest"]?.stringValue.flatMap(Hex.decode),
            let signature = fields["signature"]?.stringValue.flatMap(Hex.decode), signature.count == 64,
            let pcrs = fields["pcrs"]?.stringValue.flatMap(PCRSelection.init(parsing:)),
            case .object(let values)? = fields["values"]
        else {
            throw KeysError("the keys service gave no quote: \(fields["error"]?.stringValue ?? "no quote")")
        }
        var read: [Int: [UInt8]] = [:]
        for (index, value) in values {
            guard let index = Int(index), let value = value.stringValue.flatMap(Hex.decode) else {
                throw KeysError("the keys service's quote has a malformed PCR value")
            }
            read[index] = value
        }
        return QuoteEvidence(attest: attest, signature: signature, pcrs: pcrs, values: read)
    }

    /// Signs `message` with the TPM-resident key: raw r‖s.
    public func sign(_ message: [UInt8]) throws -> [UInt8] {
        let fields = try LocalControlClient.request(
            path: socket, op: KeysOperation.sign.rawValue, body: ["message": .string(Hex.encode(message))],
            timeout: timeout)
        guard let hex = fields["signature"]?.stringValue, let signature = Hex.decode(hex), signature.count == 64 else {
            throw KeysError("the keys service did not sign: \(fields["error"]?.stringValue ?? "no signature")")
        }
        return signature
    }

    /// A report for `nonce`, naming `streams`, made and signed by the keys service (reporters only).
    public func report(nonce: [UInt8], streams: [String] = []) throws -> CompactJWS {
        try token(
            op: .report,
            body: ["nonce": .string(Hex.encode(nonce)), "streams": .array(streams.map { .string($0) })])
    }

    /// A heartbeat numbered `sequence`, made and signed by the keys service (reporters only).
    public func heartbeat(sequence: UInt64) throws -> CompactJWS {
        try token(op: .heartbeat, body: ["sequence": .integer(Int64(clamping: sequence))])
    }

    private func token(op: KeysOperation, body: [String: JSONValue]) throws -> CompactJWS {
        let fields = try LocalControlClient.request(path: socket, op: op.rawValue, body: body, timeout: timeout)
        guard let text = fields["token"]?.stringValue else {
            throw KeysError("the keys service made no \(op.rawValue): \(fields["error"]?.stringValue ?? "no token")")
        }
        return try CompactJWS(parsing: text)
    }
}

/// Unwraps segment keys through the keys socket. Only a wrapping the service says does not open is an ordinary
/// error (the header lies); anything else — a refusal, a locked, zeroized or unreachable service — is
/// ``SegmentKeyUnavailable``: the restore stops with the reason, and no shard is blamed.
struct SocketSegmentOpener: SegmentKeyOpener {
    let client: KeysClient

    func openSegmentKey(_ wrapped: WrappedSegmentKey) throws -> SecretBytes {
        let body: [String: JSONValue] = [
            "stream": .string(wrapped.stream), "segment": .integer(Int64(clamping: wrapped.segment)),
            "encapsulated-key": .string(Hex.encode(wrapped.encapsulatedKey)),
            "wrapped-key": .string(Hex.encode(wrapped.ciphertext)),
            "description": .string(Hex.encode(wrapped.description)),
        ]
        let fields: [String: JSONValue]
        let secret: SecretBytes?
        do {
            (fields, secret) = try LocalControlClient.requestSecret(
                path: client.socket, op: KeysOperation.unwrap.rawValue, body: body, timeout: client.timeout)
        } catch {
            throw SegmentKeyUnavailable("the keys service at \(client.socket): \(error)")
        }
        if let secret, secret.count == 32 { return secret }
        let message = fields["error"]?.stringValue ?? "no key in the answer"
        // Only the service's word that the wrapping does not open blames the segment; any other failure (locked,
        // zeroized, shutting down) says nothing about it.
        if fields["corrupt"] == .bool(true) { throw KeysError(message) }
        throw SegmentKeyUnavailable(message)
    }
}

/// The TPM-resident signing key behind the keys socket, as receipts use it.
struct SocketSigningKey: ReceiptSigningKey {
    let client: KeysClient
    let keyID: String

    func sign(_ message: [UInt8]) throws -> [UInt8] {
        try client.sign(message)
    }
}
