internal import CTSS2
public import CryptoPrimitives

extension TPMConnection {
    /// The most a sealed data object holds: MAX_SYM_DATA of the TPM 2.0 reference implementation.
    public static let maximumSealedByteCount = 128

    /// Seals `secret` under the storage parent at `parent`, openable only through `authPolicy`.
    ///
    /// The object is a sealed data object (KEYEDHASH) with userWithAuth clear, so no password opens it;
    /// fixedTPM and fixedParent keep it on this TPM under this parent. For a policy home can re-approve,
    /// pass `PolicyDigest.authorize(signerName:policyRef:)`.
    ///
    /// The secret travels to the TPM in the clear over its bus (no parameter encryption yet).
    ///
    /// - Throws: `TPM2Error.noObjectAtHandle` when no parent is at `parent`; `TPM2Error` for a secret of 0 or
    ///   more than 128 bytes, a policy that is not 32 bytes, or a TPM failure.
    public func seal(_ secret: SecretBytes, parent: UInt32, authPolicy: [UInt8]) throws(TPM2Error) -> SealedObject {
        try PolicyDigest.validate(approvedPolicy: authPolicy)
        return try seal(secret, parent: parent, template: ObjectTemplates.sealedData(authPolicy: authPolicy))
    }

    /// Seals `secret` under the storage parent at `parent` with no policy: the empty password opens it, but only on
    /// this TPM and only while the parent is there, so evicting the parent destroys it. For a secret that must be
    /// had whatever the measurements (the journal key, which writing needs).
    public func sealToParent(_ secret: SecretBytes, parent: UInt32) throws(TPM2Error) -> SealedObject {
        try seal(secret, parent: parent, template: ObjectTemplates.parentBoundSealedData())
    }

    /// Unseals an object ``sealToParent(_:parent:)`` made.
    public func unsealFromParent(_ sealed: SealedObject, parent: UInt32) throws(TPM2Error) -> SecretBytes {
        try Self.validatePersistent(parent)
        let publicArea = try SealedObject.unmarshalPublic(sealed.publicArea)
        let privateArea = try SealedObject.unmarshalPrivate(sealed.privateArea)
        return try withESYSContext { (context) throws(TPM2Error) -> SecretBytes in
            let parentObject = try openPersistent(parent, role: "storage parent", context: context)
            defer { closeRecord(parentObject, context: context) }
            let object = try load(private: privateArea, public: publicArea, parent: parentObject, context: context)
            defer { flush(object, context: context) }
            return try unsealData(object, session: ESYS_TR_PASSWORD, context: context)
        }
    }

    private func seal(_ secret: SecretBytes, parent: UInt32, template: TPM2B_PUBLIC) throws(TPM2Error) -> SealedObject {
        try Self.validatePersistent(parent)
        guard (1...Self.maximumSealedByteCount).contains(secret.count) else {
            throw .invalidArgument(
                "A sealed secret has 1 to \(Self.maximumSealedByteCount) bytes, not \(secret.count)"
            )
        }
        return try withESYSContext { (context) throws(TPM2Error) -> SealedObject in
            let parentObject = try openPersistent(parent, role: "storage parent", context: context)
            defer { closeRecord(parentObject, context: context) }
            var sensitive = TPM2B_SENSITIVE_CREATE()
            defer { wipe(&sensitive) }
            secret.withUnsafeBytes { source in
                withUnsafeMutableBytes(of: &sensitive.sensitive.data.buffer) { $0.copyMemory(from: source) }
            }
            sensitive.sensitive.data.size = UInt16(secret.count)
            let (privateArea, publicArea) = try create(
                template, sensitive: &sensitive, parent: parentObject, context: context
            )
            return SealedObject(
                publicArea: try SealedObject.marshal(publicArea), privateArea: try SealedObject.marshal(privateArea)
            )
        }
    }

    /// Unseals `sealed` under the storage parent at `parent`, if the PCRs now hold values that `policy`
    /// approves.
    ///
    /// The steps: TPM2_VerifySignature checks home's signature over the approval and returns a ticket;
    /// a policy session gets PolicyPCR over `policy.pcrs` and its digest is compared with the approved one;
    /// PolicyAuthorize then replaces it with the sealed object's authPolicy, which opens TPM2_Unseal. Every
    /// transient object and the session are flushed whatever happens.
    ///
    /// - Throws: `TPM2Error.measurementsDiffer` when the PCRs do not have the approved values;
    ///   `TPM2Error.policyNotApproved` when the signature does not verify; `TPM2Error.noObjectAtHandle` when
    ///   the parent is gone (evicted: the secret is destroyed); `TPM2Error` when the TPM refuses otherwise,
    ///   e.g. the object was sealed to another signer or under another parent.
    public func unseal(
        _ sealed: SealedObject,
        parent: UInt32,
        policy: AuthorizedPolicy
    ) throws(TPM2Error) -> SecretBytes {
        try Self.validatePersistent(parent)
        let publicArea = try SealedObject.unmarshalPublic(sealed.publicArea)
        let privateArea = try SealedObject.unmarshalPrivate(sealed.privateArea)
        return try withESYSContext { (context) throws(TPM2Error) -> SecretBytes in
            let ticket = try verifyApproval(policy, context: context)
            let parentObject = try openPersistent(parent, role: "storage parent", context: context)
            defer { closeRecord(parentObject, context: context) }
            let object = try load(private: privateArea, public: publicArea, parent: parentObject, context: context)
            defer { flush(object, context: context) }
            let session = try startPolicySession(trial: false, context: context)
            defer { flush(session, context: context) }
            try policyPCR(policy.pcrs, session: session, context: context)
            let measured = try policyDigest(session: session, context: context)
            guard measured == policy.approvedPolicy else {
                throw .measurementsDiffer(pcrs: policy.pcrs, approved: policy.approvedPolicy, actual: measured)
            }
            try policyAuthorize(
                approvedPolicy: policy.approvedPolicy, policyRef: policy.policyRef,
                signerName: policy.signerPublicKey.name, ticket: ticket, session: session, context: context
            )
            return try unsealData(object, session: session, context: context)
        }
    }

    /// TPM2_VerifySignature of home's approval; the verification key is flushed before the ticket returns,
    /// so that at most one transient object is loaded at any time of an unseal.
    private func verifyApproval(
        _ policy: AuthorizedPolicy, context: OpaquePointer
    ) throws(TPM2Error)
        -> TPMT_TK_VERIFIED
    {
        let approval = try PolicyDigest.approvalDigest(
            approvedPolicy: policy.approvedPolicy, policyRef: policy.policyRef)
        let key = try loadVerificationKey(policy.signerPublicKey, context: context)
        defer { flush(key, context: context) }
        var digest = ObjectTemplates.digest(approval)
        var signature = TPMT_SIGNATURE()
        signature.sigAlg = TPM2_ALG_ECDSA
        signature.signature.ecdsa.hash = TPM2_ALG_SHA256
        signature.signature.ecdsa.signatureR = ObjectTemplates.eccParameter(policy.signature.r)
        signature.signature.ecdsa.signatureS = ObjectTemplates.eccParameter(policy.signature.s)
        var ticket: UnsafeMutablePointer<TPMT_TK_VERIFIED>?
        defer { Esys_Free(ticket) }
        let rc = Esys_VerifySignature(
            context, key, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &digest, &signature, &ticket)
        guard rc == TSS2_RC_SUCCESS else {
            guard rc & CTSS2_RC_LAYER_MASK == CTSS2_TPM_RC_LAYER else {
                throw .responseCode(rc, operation: "Esys_VerifySignature", tcti: tcti)
            }
            throw .policyNotApproved(rc: rc)
        }
        guard let ticket else { throw .unusableResponse("Esys_VerifySignature on '\(tcti)' returned no ticket.") }
        return ticket.pointee
    }

    /// TPM2_Unseal through `session`; the bytes go straight into `SecretBytes` and ESAPI's copy is wiped.
    private func unsealData(
        _ object: ESYS_TR, session: ESYS_TR, context: OpaquePointer
    ) throws(TPM2Error)
        -> SecretBytes
    {
        var data: UnsafeMutablePointer<TPM2B_SENSITIVE_DATA>?
        defer {
            if let data {
                wipe(&data.pointee)
            }
            Esys_Free(data)
        }
        let rc = Esys_Unseal(context, object, session, ESYS_TR_NONE, ESYS_TR_NONE, &data)
        try check(rc, "Esys_Unseal")
        guard let data else { throw .unusableResponse("Esys_Unseal on '\(tcti)' returned no data.") }
        let count = min(Int(data.pointee.size), MemoryLayout.size(ofValue: data.pointee.buffer))
        return withUnsafeBytes(of: &data.pointee.buffer) { buffer in
            SecretBytes(count: count) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: buffer.prefix(count))) }
        }
    }
}
