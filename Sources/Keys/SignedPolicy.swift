import CryptoPrimitives
import Foundation
import HashChain
import TPM2

/// A PCR policy home approved: the PCR selection, the policy digest those PCRs' expected values give, and home's
/// signature over it (ECDSA P-256 over SHA-256(policy ‖ policy-ref), as TPM2_PolicyAuthorize checks it). A file of
/// them per software release lives in the policy directory; the keys service tries each until one unseals.
///
///     saatkond policy v1
///     pcrs = sha256:0,2,4,7
///     policy = 9a3f…(64 hexadecimal digits)
///     signature = 3045…(128 hexadecimal digits: r ‖ s)
///     comment = release 2026.12 (optional, free text)
public struct SignedPolicy: Sendable, Hashable {
    public var pcrs: PCRSelection
    public var policy: [UInt8]
    public var signature: [UInt8]
    public var comment: String?

    /// The policyRef every storage policy carries, so that home's policy key signing something else never unseals.
    public static let policyReference = Array("saatkond storage key v1".utf8)
    static let header = "saatkond policy v1"
    /// Far more than a policy file needs; a longer file is not one.
    public static let maximumBytes = 4096

    public init(pcrs: PCRSelection, policy: [UInt8], signature: [UInt8], comment: String? = nil) {
        self.pcrs = pcrs
        self.policy = policy
        self.signature = signature
        self.comment = comment
    }

    /// Home's side: signs `policy` (the digest the expected PCR values give) with home's policy key.
    public static func sign(
        pcrs: PCRSelection, policy: [UInt8], with key: P256PrivateKey, comment: String? = nil
    ) throws -> SignedPolicy {
        SignedPolicy(
            pcrs: pcrs, policy: policy, signature: try key.signature(for: policy + policyReference), comment: comment)
    }

    /// Whether home's key signed it (checked here before the TPM is asked, for a clear message).
    public func isSigned(by key: P256PublicKey) -> Bool {
        key.isValidSignature(signature, for: policy + Self.policyReference)
    }

    public var text: String {
        var lines = [
            Self.header, "pcrs = \(pcrs)", "policy = \(Hex.encode(policy))", "signature = \(Hex.encode(signature))",
        ]
        if let comment { lines.append("comment = \(comment)") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Parses a policy file's text; `source` names it in errors.
    public init(text: String, source: String) throws {
        guard text.utf8.count <= Self.maximumBytes else { throw KeysError("\(source) is longer than a policy file") }
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard lines.first == Self.header else { throw KeysError("\(source) does not begin with '\(Self.header)'") }
        var fields: [String: String] = [:]
        for line in lines.dropFirst() {
            let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, ["pcrs", "policy", "signature", "comment"].contains(parts[0]),
                fields[parts[0]] == nil
            else {
                throw KeysError("\(source): '\(line.prefix(80))' is not one of pcrs, policy, signature, comment")
            }
            fields[parts[0]] = parts[1]
        }
        guard let pcrs = fields["pcrs"].flatMap(PCRSelection.init(parsing:)) else {
            throw KeysError("\(source): 'pcrs' is missing or not like sha256:0,7")
        }
        guard let policy = fields["policy"].flatMap({ Hex.decode($0) }), policy.count == 32 else {
            throw KeysError("\(source): 'policy' must be 64 hexadecimal digits")
        }
        guard let signature = fields["signature"].flatMap({ Hex.decode($0) }), signature.count == 64 else {
            throw KeysError("\(source): 'signature' must be 128 hexadecimal digits (r ‖ s)")
        }
        self.init(pcrs: pcrs, policy: policy, signature: signature, comment: fields["comment"])
    }
}
