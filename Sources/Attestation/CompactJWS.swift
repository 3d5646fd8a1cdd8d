import CryptoPrimitives

/// A JSON Web Signature in compact form (RFC 7515), signed with ES256 (ECDSA P-256 and SHA-256, the signature raw
/// r‖s, RFC 7518 §3.4): `BASE64URL(header).BASE64URL(payload).BASE64URL(signature)`. What any JWT library reads.
public struct CompactJWS: Sendable, Hashable {
    /// The protected header's JSON.
    public let header: [UInt8]
    /// The payload: the claims' JSON.
    public let payload: [UInt8]
    /// The ES256 signature, r‖s.
    public let signature: [UInt8]
    /// `BASE64URL(header).BASE64URL(payload)`: what the signature covers.
    public let signingInput: [UInt8]

    /// The largest token `parse(_:)` reads: a report is a few kilobytes, a quote and a few hundred streams included.
    public static let maximumByteCount = 1 << 20

    /// The signing input of `header` and `payload`, to be signed and then given to ``init(header:payload:signature:)``.
    public static func signingInput(header: [UInt8], payload: [UInt8]) -> [UInt8] {
        Array((Base64URL.encode(header) + "." + Base64URL.encode(payload)).utf8)
    }

    /// A token of `header` and `payload` with its `signature` (r‖s over ``signingInput(header:payload:)``).
    public init(header: [UInt8], payload: [UInt8], signature: [UInt8]) {
        self.header = header
        self.payload = payload
        self.signature = signature
        signingInput = Self.signingInput(header: header, payload: payload)
    }

    /// The token as text.
    public var compact: String {
        String(decoding: signingInput, as: UTF8.self) + "." + Base64URL.encode(signature)
    }

    /// Reads a compact token: three base64url parts; the signature is not checked here (``isSigned(by:)``).
    public init(parsing text: String) throws(AttestationError) {
        guard text.utf8.count <= Self.maximumByteCount else {
            throw AttestationError("the token is longer than \(Self.maximumByteCount) bytes")
        }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else {
            throw AttestationError("not a compact JWS: \(parts.count) parts separated by '.', not 3")
        }
        guard let header = Base64URL.decode(parts[0]), let payload = Base64URL.decode(parts[1]),
            let signature = Base64URL.decode(parts[2])
        else {
            throw AttestationError("not a compact JWS: a part is not base64url")
        }
        self.header = header
        self.payload = payload
        self.signature = signature
        signingInput = Array(text.utf8.prefix(parts[0].utf8.count + 1 + parts[1].utf8.count))
    }

    /// Whether `key` made the signature over the signing input (ES256).
    public func isSigned(by key: P256PublicKey) -> Bool {
        signature.count == 64 && key.isValidSignature(signature, for: signingInput)
    }
}

/// Why a report or token is not accepted, or could not be made.
public struct AttestationError: Error, Sendable, Hashable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
