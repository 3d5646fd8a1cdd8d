import CryptoPrimitives
import Foundation
import HashChain
import LocalControl

/// A decommission order and the home keys that may sign it: the order is text,
///
///     saatkond decommission v1
///     appliance = ee-embassy-lu-1
///     storage-public-key = 15978e89…(the appliance's, 64 hexadecimal digits, from its provisioning)
///     issued = 2026-12-06T10:00:00Z
///     reason = contract ended
///
/// and it carries one ECDSA P-256 signature (raw r‖s, hexadecimal) per signer, over the order's bytes. It takes
/// effect only with signatures of at least `quorum` different configured keys, and only on the appliance it names
/// by its name and its storage public key: an order kept from one chassis cannot wipe the next one given the name.
public struct DecommissionPolicy: Sendable {
    /// The keys that may sign.
    public let keys: [P256PublicKey]
    /// How many different ones must.
    public let quorum: Int
    /// This appliance's name, which the order must carry.
    public let appliance: String

    public init(keys: [P256PublicKey], quorum: Int, appliance: String) {
        self.keys = keys
        self.quorum = quorum
        self.appliance = appliance
    }

    /// What a verified order said.
    public struct Order: Sendable {
        public let summary: String
    }

    static let header = "saatkond decommission v1"
    static let maximumOrderBytes = 4096

    /// Checks a request's `order` (text) and `signatures` (hexadecimal r‖s, any order).
    public func check(_ body: [String: JSONValue], storagePublicKey: X25519PublicKey?) throws -> Order {
        guard let order = body["order"]?.stringValue, order.utf8.count <= Self.maximumOrderBytes else {
            throw KeysError("a decommission request carries the order's text in \"order\" (at most 4 KiB)")
        }
        let lines = order.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        guard lines.first == Self.header else { throw KeysError("the order does not begin with '\(Self.header)'") }
        var fields: [String: String] = [:]
        for line in lines.dropFirst() where !line.isEmpty {
            let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, fields[parts[0]] == nil else {
                throw KeysError("the order's line '\(line.prefix(80))' is not a single `key = value`")
            }
            fields[parts[0]] = parts[1]
        }
        guard fields["appliance"] == appliance else {
            throw KeysError(
                "the order is for appliance '\(fields["appliance"] ?? "")', not this one ('\(appliance)')")
        }
        guard let storagePublicKey, fields["storage-public-key"] == Hex.encode(storagePublicKey.rawRepresentation)
        else {
            throw KeysError(
                "the order names another storage public key than this appliance's: it is not for these keys")
        }
        let signatures = (body["signatures"]?.arrayValue ?? []).compactMap { $0.stringValue.flatMap(Hex.decode) }
        let message = Array(order.utf8)
        var signers = Set<Int>()
        for signature in signatures {
            if let signer = keys.indices.first(where: { keys[$0].isValidSignature(signature, for: message) }) {
                signers.insert(signer)
            }
        }
        guard signers.count >= quorum else {
            throw KeysError(
                "the order carries valid signatures of \(signers.count) configured home keys; \(quorum) are needed")
        }
        return Order(
            summary: "issued \(fields["issued"] ?? "?"), reason \(fields["reason"] ?? "none given"), signed by "
                + "\(signers.count) home keys")
    }
}
