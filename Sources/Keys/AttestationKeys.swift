import Attestation
import CryptoPrimitives
import Receipts
import TPM2

/// What a report needs of the keys: their state, the signing key and its id, a quote, a signature. The keys service
/// answers from its own holder (reports are made inside it, op `report`); a ``KeysClient`` of a signer answers
/// through the socket (tests, tools).
public protocol AttestationKeys: Sendable {
    func attestationIdentity() throws -> AttestationIdentity
    func quote(nonce: [UInt8]) throws -> QuoteEvidence
    func sign(_ message: [UInt8]) throws -> [UInt8]
}

/// The keys' state and the key that signs reports.
public struct AttestationIdentity: Sendable {
    public var signingKey: P256PublicKey
    public var keyID: String
    public var state: String
    public var reason: String?

    public init(signingKey: P256PublicKey, keyID: String, state: String, reason: String?) {
        self.signingKey = signingKey
        self.keyID = keyID
        self.state = state
        self.reason = reason
    }
}

extension KeysClient: AttestationKeys {
    public func attestationIdentity() throws -> AttestationIdentity {
        let status = try status()
        guard let pem = status["signing-public-key"]?.stringValue, let keyID = status["signing-key"]?.stringValue
        else {
            throw AttestationError(
                "the keys service has no signing key: \(status["reason"]?.stringValue ?? "not provisioned")")
        }
        return AttestationIdentity(
            signingKey: try P256PublicKey(pemRepresentation: pem), keyID: keyID,
            state: status["state"]?.stringValue ?? "unknown", reason: status["reason"]?.stringValue)
    }
}

/// The keys service's own holder: reports made inside the service sign with the key it holds.
extension KeyHolder: AttestationKeys {
    public func attestationIdentity() throws -> AttestationIdentity {
        guard let key = signingPublicKey else {
            throw AttestationError("there is no signing key (\(state.description))")
        }
        return AttestationIdentity(
            signingKey: key, keyID: ReceiptKeyID.of(key), state: state.name, reason: state.reason)
    }
}
