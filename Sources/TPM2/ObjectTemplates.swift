internal import CTSS2

/// The TPMT_PUBLIC templates of every object this module creates or loads, in one place because each
/// object's name (and so every policy that names it) follows from its template.
enum ObjectTemplates {
    /// TCG's ECC NIST P-256 storage key (Provisioning Guidance 7.5.1, EK Credential Profile template L-2
    /// with noDA and userWithAuth): a restricted decryption key with AES-128-CFB for its children's blobs.
    /// As a primary under the owner hierarchy it is the SRK, derived again from the owner seed on each use,
    /// so its `unique` holds the profile's 32 zero bytes per coordinate.
    static func storageKey(primary: Bool) -> TPM2B_PUBLIC {
        var template = TPM2B_PUBLIC()
        template.publicArea.type = TPM2_ALG_ECC
        template.publicArea.nameAlg = TPM2_ALG_SHA256
        template.publicArea.objectAttributes =
            TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN
            | TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT
        template.publicArea.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_AES
        template.publicArea.parameters.eccDetail.symmetric.keyBits.aes = 128
        template.publicArea.parameters.eccDetail.symmetric.mode.aes = TPM2_ALG_CFB
        template.publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL
        template.publicArea.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256
        template.publicArea.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL
        if primary {
            template.publicArea.unique.ecc.x.size = 32
            template.publicArea.unique.ecc.y.size = 32
        }
        return template
    }

    /// A sealed data object (KEYEDHASH, no scheme) that opens only through `authPolicy`: userWithAuth is
    /// clear, so its (empty) authValue opens nothing; fixedTPM and fixedParent forbid duplication;
    /// sensitiveDataOrigin is clear because the caller supplies the data; noDA because failed policy
    /// attempts say nothing about a guessed password and must not lock the TPM out.
    static func sealedData(authPolicy: [UInt8]) -> TPM2B_PUBLIC {
        sealedData(authPolicy: authPolicy, attributes: 0)
    }

    /// A sealed data object any caller of this TPM may open with the empty password (userWithAuth): bound to the
    /// parent alone, it leaves this TPM only with the parent, which never leaves it.
    static func parentBoundSealedData() -> TPM2B_PUBLIC {
        sealedData(authPolicy: [], attributes: TPMA_OBJECT_USERWITHAUTH)
    }

    private static func sealedData(authPolicy: [UInt8], attributes: TPMA_OBJECT) -> TPM2B_PUBLIC {
        var template = TPM2B_PUBLIC()
        template.publicArea.type = TPM2_ALG_KEYEDHASH
        template.publicArea.nameAlg = TPM2_ALG_SHA256
        template.publicArea.objectAttributes =
            TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_NODA | attributes
        template.publicArea.authPolicy = digest(authPolicy)
        template.publicArea.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL
        return template
    }

    /// A restricted ECDSA-SHA256 P-256 signing key (an attestation key): it signs only digests the TPM
    /// ticketed as not starting with TPM_GENERATED_VALUE, so it cannot forge a quote.
    static func restrictedSigningKey() -> TPM2B_PUBLIC {
        var template = TPM2B_PUBLIC()
        template.publicArea.type = TPM2_ALG_ECC
        template.publicArea.nameAlg = TPM2_ALG_SHA256
        template.publicArea.objectAttributes =
            TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN
            | TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT
        template.publicArea.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL
        template.publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA
        template.publicArea.parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256
        template.publicArea.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256
        template.publicArea.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL
        return template
    }

    /// The public area `ECCPoint.verificationKeyArea` marshals by hand; the two must stay field for field
    /// the same, which a test checks against the name the TPM computes.
    static func verificationKey(_ point: ECCPoint) -> TPM2B_PUBLIC {
        var template = TPM2B_PUBLIC()
        template.publicArea.type = TPM2_ALG_ECC
        template.publicArea.nameAlg = TPM2_ALG_SHA256
        template.publicArea.objectAttributes = ECCPoint.verificationKeyAttributes
        template.publicArea.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL
        template.publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA
        template.publicArea.parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256
        template.publicArea.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256
        template.publicArea.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL
        template.publicArea.unique.ecc.x = eccParameter(point.x)
        template.publicArea.unique.ecc.y = eccParameter(point.y)
        return template
    }

    /// The point of an ECC public area the TPM returned.
    static func point(of area: TPM2B_PUBLIC) throws(TPM2Error) -> ECCPoint {
        let ecc = area.publicArea.unique.ecc
        return try ECCPoint(x: bytes(of: ecc.x), y: bytes(of: ecc.y))
    }

    static func digest(_ bytes: [UInt8]) -> TPM2B_DIGEST {
        var digest = TPM2B_DIGEST()
        fill(&digest.buffer, size: &digest.size, with: bytes)
        return digest
    }

    static func eccParameter(_ bytes: [UInt8]) -> TPM2B_ECC_PARAMETER {
        var parameter = TPM2B_ECC_PARAMETER()
        fill(&parameter.buffer, size: &parameter.size, with: bytes)
        return parameter
    }

    static func bytes(of parameter: TPM2B_ECC_PARAMETER) -> [UInt8] {
        withUnsafeBytes(of: parameter.buffer) { Array($0.prefix(Int(parameter.size))) }
    }

    static func bytes(of digest: TPM2B_DIGEST) -> [UInt8] {
        withUnsafeBytes(of: digest.buffer) { Array($0.prefix(Int(digest.size))) }
    }

    /// Copies `bytes` into a TPM2B's fixed buffer; callers have checked that they fit, and the prefix
    /// keeps an oversized array from writing past the buffer regardless.
    static func fill<Buffer>(_ buffer: inout Buffer, size: inout UInt16, with bytes: [UInt8]) {
        let count = min(bytes.count, MemoryLayout<Buffer>.size)
        withUnsafeMutableBytes(of: &buffer) { $0.copyBytes(from: bytes.prefix(count)) }
        size = UInt16(count)
    }
}
