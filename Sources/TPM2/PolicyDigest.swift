internal import CryptoPrimitives

/// The policy digests of TPM 2.0 part 1 ("Policy Digest Computation"), computed without a TPM, so that
/// home can seal to and approve measurements at a workstation. All use SHA-256, the sessions' hash.
///
/// The chain: a sealed object's authPolicy is `authorize(signerName:policyRef:)`; home approves a set of
/// measurements by signing `approvalDigest(approvedPolicy: pcr(selection:values:), policyRef:)`. When the
/// measurements change, home signs a new approval and nothing is resealed.
public enum PolicyDigest {
    /// The size of every digest here.
    public static let byteCount = 32

    /// The longest policy reference accepted: the size of a SHA-256 digest.
    public static let maximumPolicyReferenceByteCount = 32

    /// TPM_CC_PolicyPCR and TPM_CC_PolicyAuthorize, which each policy command hashes into the digest.
    private static let policyPCRCommand: UInt32 = 0x0000_017F
    private static let policyAuthorizeCommand: UInt32 = 0x0000_016A

    /// The digest of a fresh (all-zero) policy session after TPM2_PolicyPCR over `selection`, when the PCRs
    /// have `values`: SHA-256(0³² ‖ TPM_CC_PolicyPCR ‖ TPML_PCR_SELECTION ‖ SHA-256(values in index order)).
    ///
    /// - Parameter values: a value for every selected index, of the bank's digest size; others are ignored.
    /// - Throws: `TPM2Error` when a selected value is missing or has the wrong size.
    public static func pcr(selection: PCRSelection, values: [Int: [UInt8]]) throws(TPM2Error) -> [UInt8] {
        var concatenated: [UInt8] = []
        for index in selection.indices {
            guard let value = values[index], value.count == selection.bank.digestSize else {
                throw .invalidArgument(
                    "PolicyDigest.pcr needs a \(selection.bank.digestSize)-byte value for PCR \(index) of "
                        + "\(selection.bank), got \(values[index].map { "\($0.count) bytes" } ?? "none")"
                )
            }
            concatenated += value
        }
        var writer = ByteWriter()
        writer.append([UInt8](repeating: 0, count: byteCount))
        writer.append(policyPCRCommand)
        writer.append(selection.marshalled)
        writer.append(SHA256.hash(concatenated))
        return SHA256.hash(writer.bytes)
    }

    /// The authPolicy of an object that opens for any policy `signerName`'s key approves with `policyRef`:
    /// TPM2_PolicyAuthorize resets the digest and then extends it twice, with the command and the key's name,
    /// then with the reference.
    ///
    /// - Throws: `TPM2Error` for a policy reference longer than 32 bytes.
    public static func authorize(signerName: [UInt8], policyRef: [UInt8]) throws(TPM2Error) -> [UInt8] {
        try validate(policyRef: policyRef)
        var first = ByteWriter()
        first.append([UInt8](repeating: 0, count: byteCount))
        first.append(policyAuthorizeCommand)
        first.append(signerName)
        return SHA256.hash(SHA256.hash(first.bytes) + policyRef)
    }

    /// What home signs to approve `approvedPolicy`: aHash = SHA-256(approvedPolicy ‖ policyRef), the digest
    /// TPM2_VerifySignature checks before PolicyAuthorize accepts the approval.
    ///
    /// - Throws: `TPM2Error` for a policy that is not 32 bytes or a reference longer than 32 bytes.
    public static func approvalDigest(approvedPolicy: [UInt8], policyRef: [UInt8]) throws(TPM2Error) -> [UInt8] {
        try validate(approvedPolicy: approvedPolicy)
        try validate(policyRef: policyRef)
        return SHA256.hash(approvedPolicy + policyRef)
    }

    static func validate(policyRef: [UInt8]) throws(TPM2Error) {
        guard policyRef.count <= maximumPolicyReferenceByteCount else {
            throw .invalidArgument(
                "A policy reference has at most \(maximumPolicyReferenceByteCount) bytes, not \(policyRef.count)"
            )
        }
    }

    static func validate(approvedPolicy: [UInt8]) throws(TPM2Error) {
        guard approvedPolicy.count == byteCount else {
            throw .invalidArgument("A SHA-256 policy digest has 32 bytes, not \(approvedPolicy.count)")
        }
    }
}
