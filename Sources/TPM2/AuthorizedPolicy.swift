/// Home's approval of a set of measurements, which opens every object sealed to
/// `PolicyDigest.authorize(signerName: signerPublicKey.name, policyRef:)`.
///
/// Home computes `approvedPolicy` offline (`PolicyDigest.pcr`) from the measurements it expects and signs
/// `PolicyDigest.approvalDigest(approvedPolicy:policyRef:)`; the appliance stores the result and presents it
/// to the TPM at unseal. Nothing in it is secret.
public struct AuthorizedPolicy: Sendable, Hashable {
    /// The PCRs whose current values the TPM hashes into the policy.
    public let pcrs: PCRSelection
    /// The PolicyPCR digest home approves, 32 bytes.
    public let approvedPolicy: [UInt8]
    /// The reference that ties the approval to one purpose (e.g. "storage key"), at most 32 bytes.
    public let policyRef: [UInt8]
    /// Home's policy-signing key.
    public let signerPublicKey: ECCPoint
    /// ECDSA-SHA256 by `signerPublicKey` over `PolicyDigest.approvalDigest(approvedPolicy:policyRef:)`.
    public let signature: ECDSASignature

    /// - Throws: `TPM2Error` for a policy that is not 32 bytes or a reference longer than 32 bytes.
    public init(
        pcrs: PCRSelection,
        approvedPolicy: [UInt8],
        policyRef: [UInt8],
        signerPublicKey: ECCPoint,
        signature: ECDSASignature
    ) throws(TPM2Error) {
        try PolicyDigest.validate(approvedPolicy: approvedPolicy)
        try PolicyDigest.validate(policyRef: policyRef)
        self.pcrs = pcrs
        self.approvedPolicy = approvedPolicy
        self.policyRef = policyRef
        self.signerPublicKey = signerPublicKey
        self.signature = signature
    }
}
