internal import CTSS2

extension TPMConnection {
    /// The longest nonce a quote carries: the largest digest (SHA-512), which TPM2B_DATA holds on any TPM.
    public static let maximumNonceByteCount = 64

    /// Quotes `pcrs` with the restricted signing key persistent at `handle`: the TPM signs a TPMS_ATTEST
    /// holding `nonce`, its clock and reset counts, and the digest of the PCRs' current values.
    ///
    /// - Throws: `TPM2Error.noObjectAtHandle` when no key is there; `TPM2Error` for a nonce over 64 bytes or a
    ///   TPM failure.
    public func quote(pcrs: PCRSelection, nonce: [UInt8], with handle: UInt32) throws(TPM2Error) -> Quote {
        try Self.validatePersistent(handle)
        guard nonce.count <= Self.maximumNonceByteCount else {
            throw .invalidArgument(
                "A quote's nonce has at most \(Self.maximumNonceByteCount) bytes, not \(nonce.count)")
        }
        return try withESYSContext { (context) throws(TPM2Error) -> Quote in
            let key = try openPersistent(handle, role: "signing key", context: context)
            defer { closeRecord(key, context: context) }
            var qualifyingData = TPM2B_DATA()
            ObjectTemplates.fill(&qualifyingData.buffer, size: &qualifyingData.size, with: nonce)
            var scheme = TPMT_SIG_SCHEME()
            scheme.scheme = TPM2_ALG_NULL
            var selection = PCRSelectionList.make(bank: pcrs.bank, indices: pcrs.indices)
            var quoted: UnsafeMutablePointer<TPM2B_ATTEST>?
            var signature: UnsafeMutablePointer<TPMT_SIGNATURE>?
            defer {
                Esys_Free(quoted)
                Esys_Free(signature)
            }
            let rc = Esys_Quote(
                context, key, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &qualifyingData, &scheme, &selection,
                &quoted, &signature
            )
            try check(rc, "Esys_Quote")
            guard let quoted, let signature else {
                throw .unusableResponse("Esys_Quote on '\(tcti)' returned no attestation or signature.")
            }
            let size = min(Int(quoted.pointee.size), MemoryLayout.size(ofValue: quoted.pointee.attestationData))
            let attest = withUnsafeBytes(of: quoted.pointee.attestationData) { Array($0.prefix(size)) }
            return Quote(attest: attest, signature: try Self.ecdsaSignature(signature.pointee))
        }
    }
}
