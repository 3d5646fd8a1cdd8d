import CryptoPrimitives
import Foundation

/// Makes and reads the report's JWT: a protected header naming ES256 and the signing key's id, and the claims.
public enum AttestationToken {
    /// The header of a report signed by the key `keyID` names.
    static func header(keyID: String) -> [UInt8] {
        let header: [String: String] = ["alg": "ES256", "typ": "JWT", "kid": keyID]
        // Sorted keys: the same claims always make the same bytes.
        return Array(try! encoder.encode(header))  // A dictionary of strings always encodes.
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// Signs `claims` with `sign` (ES256: raw r‖s over the bytes it is given), naming the key `keyID`.
    public static func make(
        _ claims: AttestationClaims, keyID: String, sign: ([UInt8]) throws -> [UInt8]
    ) throws -> CompactJWS {
        let payload = Array(try encoder.encode(claims))
        let header = header(keyID: keyID)
        let signature = try sign(CompactJWS.signingInput(header: header, payload: payload))
        guard signature.count == 64 else {
            throw AttestationError("the signing key gave a signature of \(signature.count) bytes, not 64 (r‖s)")
        }
        return CompactJWS(header: header, payload: payload, signature: signature)
    }

    /// The claims of `token`, once its header says ES256 and its signature verifies with `key`.
    public static func claims(of token: CompactJWS, key: P256PublicKey) throws(AttestationError) -> AttestationClaims {
        let header: [String: String]
        do {
            header = try JSONDecoder().decode([String: String].self, from: Data(token.header))
        } catch {
            throw AttestationError("the token's header is not a JSON object of strings")
        }
        guard header["alg"] == "ES256" else {
            throw AttestationError("the token is signed with \(header["alg"] ?? "nothing named"), not ES256")
        }
        guard token.isSigned(by: key) else {
            throw AttestationError("the signature does not verify with the appliance's attestation key")
        }
        do {
            return try JSONDecoder().decode(AttestationClaims.self, from: Data(token.payload))
        } catch {
            throw AttestationError("the claims are not a report's: \(Self.describe(error))")
        }
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "'\(key.stringValue)' is missing"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context),
            DecodingError.dataCorrupted(let context):
            "'\(context.codingPath.map(\.stringValue).joined(separator: "."))' is malformed"
        default: "\(error)"
        }
    }
}
