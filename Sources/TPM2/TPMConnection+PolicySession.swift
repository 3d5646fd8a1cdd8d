internal import CTSS2

/// The policy-session commands of an unseal, and their trial-session twins that let the TPM compute a
/// policy digest for comparison with `PolicyDigest`.
extension TPMConnection {
    /// The digest the TPM computes for PolicyPCR over `pcrs` with their current values, in a trial session:
    /// what `PolicyDigest.pcr` gives for the values `readPCRs` returns. At provisioning this is the policy
    /// to have approved for the state the machine is in now.
    public func currentPCRPolicy(_ pcrs: PCRSelection) throws(TPM2Error) -> [UInt8] {
        try withESYSContext { (context) throws(TPM2Error) -> [UInt8] in
            let session = try startPolicySession(trial: true, context: context)
            defer { flush(session, context: context) }
            try policyPCR(pcrs, session: session, context: context)
            return try policyDigest(session: session, context: context)
        }
    }

    /// The digest the TPM computes for PolicyAuthorize by `signer` with `policyRef` in a trial session, where
    /// no approval is checked: what `PolicyDigest.authorize` gives for `signer.name`.
    func trialAuthorizePolicy(signer: ECCPoint, policyRef: [UInt8]) throws(TPM2Error) -> [UInt8] {
        try PolicyDigest.validate(policyRef: policyRef)
        return try withESYSContext { (context) throws(TPM2Error) -> [UInt8] in
            let session = try startPolicySession(trial: true, context: context)
            defer { flush(session, context: context) }
            var ticket = TPMT_TK_VERIFIED()
            ticket.tag = TPM2_ST_VERIFIED
            ticket.hierarchy = TPM2_RH_NULL
            try policyAuthorize(
                approvedPolicy: [UInt8](repeating: 0, count: PolicyDigest.byteCount), policyRef: policyRef,
                signerName: signer.name, ticket: ticket, session: session, context: context
            )
            return try policyDigest(session: session, context: context)
        }
    }

    /// The name the TPM gives `point` loaded as a policy signer: what `ECCPoint.name` computes offline.
    func loadedName(of point: ECCPoint) throws(TPM2Error) -> [UInt8] {
        try withESYSContext { (context) throws(TPM2Error) -> [UInt8] in
            let key = try loadVerificationKey(point, context: context)
            defer { flush(key, context: context) }
            var name: UnsafeMutablePointer<TPM2B_NAME>?
            defer { Esys_Free(name) }
            var outPublic: UnsafeMutablePointer<TPM2B_PUBLIC>?
            var qualifiedName: UnsafeMutablePointer<TPM2B_NAME>?
            defer {
                Esys_Free(outPublic)
                Esys_Free(qualifiedName)
            }
            // ReadPublic, so that the name is the TPM's own and not ESAPI's computation.
            let rc = Esys_ReadPublic(
                context, key, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &outPublic, &name, &qualifiedName
            )
            try check(rc, "Esys_ReadPublic")
            guard let name else { throw .unusableResponse("Esys_ReadPublic on '\(tcti)' returned no name.") }
            return withUnsafeBytes(of: name.pointee.name) { Array($0.prefix(Int(name.pointee.size))) }
        }
    }

    /// A policy (or trial) session with SHA-256, unbound and unsalted; the caller flushes it. It stays open
    /// after the command it authorises, so that the caller's flush is the one place it ends.
    func startPolicySession(trial: Bool, context: OpaquePointer) throws(TPM2Error) -> ESYS_TR {
        var symmetric = TPMT_SYM_DEF()
        symmetric.algorithm = TPM2_ALG_NULL
        var session: ESYS_TR = ESYS_TR_NONE
        let rc = Esys_StartAuthSession(
            context, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, nil,
            trial ? TPM2_SE_TRIAL : TPM2_SE_POLICY, &symmetric, TPM2_ALG_SHA256, &session
        )
        try check(rc, "Esys_StartAuthSession")
        let attributes = Esys_TRSess_SetAttributes(
            context, session, TPMA_SESSION_CONTINUESESSION, 0xFF
        )
        guard attributes == TSS2_RC_SUCCESS else {
            flush(session, context: context)
            throw .responseCode(attributes, operation: "Esys_TRSess_SetAttributes", tcti: tcti)
        }
        return session
    }

    /// TPM2_PolicyPCR with an empty digest: the TPM hashes the PCRs' current values itself.
    func policyPCR(_ pcrs: PCRSelection, session: ESYS_TR, context: OpaquePointer) throws(TPM2Error) {
        var selection = PCRSelectionList.make(bank: pcrs.bank, indices: pcrs.indices)
        var empty = TPM2B_DIGEST()
        let rc = Esys_PolicyPCR(context, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &empty, &selection)
        try check(rc, "Esys_PolicyPCR")
    }

    func policyDigest(session: ESYS_TR, context: OpaquePointer) throws(TPM2Error) -> [UInt8] {
        var digest: UnsafeMutablePointer<TPM2B_DIGEST>?
        defer { Esys_Free(digest) }
        let rc = Esys_PolicyGetDigest(context, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &digest)
        try check(rc, "Esys_PolicyGetDigest")
        guard let digest else { throw .unusableResponse("Esys_PolicyGetDigest on '\(tcti)' returned no digest.") }
        return ObjectTemplates.bytes(of: digest.pointee)
    }

    func policyAuthorize(
        approvedPolicy: [UInt8],
        policyRef: [UInt8],
        signerName: [UInt8],
        ticket: TPMT_TK_VERIFIED,
        session: ESYS_TR,
        context: OpaquePointer
    ) throws(TPM2Error) {
        var approved = ObjectTemplates.digest(approvedPolicy)
        var reference = ObjectTemplates.digest(policyRef)
        var name = TPM2B_NAME()
        ObjectTemplates.fill(&name.name, size: &name.size, with: signerName)
        var ticket = ticket
        let rc = Esys_PolicyAuthorize(
            context, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &approved, &reference, &name, &ticket
        )
        try check(rc, "Esys_PolicyAuthorize")
    }

    /// Loads `point` as a public-only ECDSA-SHA256 verification key in the owner hierarchy, whose tickets
    /// PolicyAuthorize accepts (a null-hierarchy key gets only null tickets); the caller flushes it.
    func loadVerificationKey(_ point: ECCPoint, context: OpaquePointer) throws(TPM2Error) -> ESYS_TR {
        var publicArea = ObjectTemplates.verificationKey(point)
        var key: ESYS_TR = ESYS_TR_NONE
        let rc = Esys_LoadExternal(
            context, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, nil, &publicArea, ESYS_TR_RH_OWNER, &key
        )
        try check(rc, "Esys_LoadExternal (policy signer)")
        return key
    }
}
