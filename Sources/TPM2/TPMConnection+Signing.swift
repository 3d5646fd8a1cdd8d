internal import CTSS2

extension TPMConnection {
    /// The longest message `sign` accepts; larger messages should be hashed into a short statement first.
    public static let maximumSignedMessageByteCount = 64 * 1024

    /// Bytes per TPM2_Hash or TPM2_SequenceUpdate: MAX_DIGEST_BUFFER, the capacity of TPM2B_MAX_BUFFER.
    private static let hashChunkByteCount = 1024

    /// Creates a restricted ECDSA-SHA256 P-256 signing key under the storage parent at `parent` and makes it
    /// persistent at `handle`; returns its public key.
    ///
    /// Restricted: it signs only what the TPM certifies does not start with TPM_GENERATED_VALUE, so it can
    /// sign quotes and ordinary messages but can never forge a TPM attestation.
    ///
    /// - Throws: `TPM2Error.handleOccupied` when `handle` is taken; `TPM2Error.noObjectAtHandle` when no
    ///   parent is at `parent`; `TPM2Error` when the TPM fails.
    public func makeSigningKey(parent: UInt32, at handle: UInt32) throws(TPM2Error) -> ECCPoint {
        try Self.validatePersistent(parent)
        try Self.validatePersistent(handle)
        return try withESYSContext { (context) throws(TPM2Error) -> ECCPoint in
            guard try !persistentHandleExists(handle, context: context) else { throw .handleOccupied(handle) }
            let parentObject = try openPersistent(parent, role: "storage parent", context: context)
            defer { closeRecord(parentObject, context: context) }
            let area = try createPersistentChild(
                ObjectTemplates.restrictedSigningKey(), parent: parentObject, at: handle, context: context
            )
            return try ObjectTemplates.point(of: area)
        }
    }

    /// The public key of the ECC key persistent at `handle`.
    ///
    /// - Throws: `TPM2Error.noObjectAtHandle` when nothing is there; `TPM2Error` when it is not an ECC key.
    public func publicKey(at handle: UInt32) throws(TPM2Error) -> ECCPoint {
        try Self.validatePersistent(handle)
        return try withESYSContext { (context) throws(TPM2Error) -> ECCPoint in
            let key = try openPersistent(handle, role: "key", context: context)
            defer { closeRecord(key, context: context) }
            var outPublic: UnsafeMutablePointer<TPM2B_PUBLIC>?
            var name: UnsafeMutablePointer<TPM2B_NAME>?
            var qualifiedName: UnsafeMutablePointer<TPM2B_NAME>?
            defer {
                Esys_Free(outPublic)
                Esys_Free(name)
                Esys_Free(qualifiedName)
            }
            let rc = Esys_ReadPublic(
                context, key, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &outPublic, &name, &qualifiedName
            )
            try check(rc, "Esys_ReadPublic")
            guard let outPublic, outPublic.pointee.publicArea.type == TPM2_ALG_ECC else {
                throw .invalidArgument("The object at 0x\(String(handle, radix: 16)) is not an ECC key")
            }
            return try ObjectTemplates.point(of: outPublic.pointee)
        }
    }

    /// Signs `message` (ECDSA over its SHA-256) with the restricted signing key persistent at `handle`.
    ///
    /// The TPM hashes the message itself (TPM2_Hash, or a hash sequence above 1024 bytes) in the owner
    /// hierarchy and returns a ticket saying the message is not one of its attestations; TPM2_Sign requires
    /// that ticket for a restricted key.
    ///
    /// - Throws: `TPM2Error.messageNotTicketable` when the message starts with TPM_GENERATED_VALUE
    ///   (FF 54 43 47); `TPM2Error.noObjectAtHandle` when no key is there; `TPM2Error` for a message longer
    ///   than 64 KiB or a TPM failure.
    public func sign(_ message: [UInt8], with handle: UInt32) throws(TPM2Error) -> ECDSASignature {
        try Self.validatePersistent(handle)
        guard message.count <= Self.maximumSignedMessageByteCount else {
            throw .invalidArgument(
                "sign(_:with:) takes at most \(Self.maximumSignedMessageByteCount) bytes, not \(message.count)"
            )
        }
        return try withESYSContext { (context) throws(TPM2Error) -> ECDSASignature in
            let key = try openPersistent(handle, role: "signing key", context: context)
            defer { closeRecord(key, context: context) }
            var (digest, ticket) = try hashWithTicket(message, context: context)
            guard ticket.hierarchy != TPM2_RH_NULL else { throw .messageNotTicketable() }
            var scheme = TPMT_SIG_SCHEME()
            scheme.scheme = TPM2_ALG_ECDSA
            scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256
            var signature: UnsafeMutablePointer<TPMT_SIGNATURE>?
            defer { Esys_Free(signature) }
            let rc = Esys_Sign(
                context, key, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &digest, &scheme, &ticket, &signature)
            try check(rc, "Esys_Sign")
            guard let signature else { throw .unusableResponse("Esys_Sign on '\(tcti)' returned no signature.") }
            return try Self.ecdsaSignature(signature.pointee)
        }
    }

    static func ecdsaSignature(_ signature: TPMT_SIGNATURE) throws(TPM2Error) -> ECDSASignature {
        guard signature.sigAlg == TPM2_ALG_ECDSA else {
            throw .unusableResponse("The TPM signed with algorithm \(signature.sigAlg), not ECDSA (0x18).")
        }
        return try ECDSASignature(
            r: ObjectTemplates.bytes(of: signature.signature.ecdsa.signatureR),
            s: ObjectTemplates.bytes(of: signature.signature.ecdsa.signatureS)
        )
    }

    /// SHA-256 of `message` computed by the TPM, with its hash-check ticket (a NULL ticket when the message
    /// starts with TPM_GENERATED_VALUE).
    private func hashWithTicket(
        _ message: [UInt8], context: OpaquePointer
    ) throws(TPM2Error)
        -> (TPM2B_DIGEST, TPMT_TK_HASHCHECK)
    {
        var digest: UnsafeMutablePointer<TPM2B_DIGEST>?
        var ticket: UnsafeMutablePointer<TPMT_TK_HASHCHECK>?
        defer {
            Esys_Free(digest)
            Esys_Free(ticket)
        }
        if message.count <= Self.hashChunkByteCount {
            var buffer = Self.maxBuffer(message[...])
            let rc = Esys_Hash(
                context, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &buffer, TPM2_ALG_SHA256, ESYS_TR_RH_OWNER,
                &digest, &ticket
            )
            try check(rc, "Esys_Hash")
        } else {
            try hashSequence(message, digest: &digest, ticket: &ticket, context: context)
        }
        guard let digest, let ticket else { throw .unusableResponse("The TPM on '\(tcti)' returned no hash.") }
        return (digest.pointee, ticket.pointee)
    }

    /// A hash sequence over `message` in chunks; the sequence object is flushed if any step fails (the
    /// final TPM2_SequenceComplete flushes it on success).
    private func hashSequence(
        _ message: [UInt8],
        digest: inout UnsafeMutablePointer<TPM2B_DIGEST>?,
        ticket: inout UnsafeMutablePointer<TPMT_TK_HASHCHECK>?,
        context: OpaquePointer
    ) throws(TPM2Error) {
        var auth = TPM2B_AUTH()
        var sequence: ESYS_TR = ESYS_TR_NONE
        let started = Esys_HashSequenceStart(
            context, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &auth, TPM2_ALG_SHA256, &sequence
        )
        try check(started, "Esys_HashSequenceStart")
        var completed = false
        defer { if !completed { flush(sequence, context: context) } }
        var start = 0
        while message.count - start > Self.hashChunkByteCount {
            var buffer = Self.maxBuffer(message[start..<start + Self.hashChunkByteCount])
            let rc = Esys_SequenceUpdate(context, sequence, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &buffer)
            try check(rc, "Esys_SequenceUpdate")
            start += Self.hashChunkByteCount
        }
        var last = Self.maxBuffer(message[start...])
        let rc = Esys_SequenceComplete(
            context, sequence, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &last, ESYS_TR_RH_OWNER, &digest, &ticket
        )
        try check(rc, "Esys_SequenceComplete")
        completed = true
    }

    private static func maxBuffer(_ bytes: ArraySlice<UInt8>) -> TPM2B_MAX_BUFFER {
        var buffer = TPM2B_MAX_BUFFER()
        ObjectTemplates.fill(&buffer.buffer, size: &buffer.size, with: Array(bytes))
        return buffer
    }
}
