internal import CTSS2

extension TPMConnection {
    /// How often a multi-call read starts over because the PCRs moved under it before giving up.
    private static let pcrSnapshotAttempts = 8

    /// Reads the current values of the PCRs at `indices` in `bank`, as one consistent snapshot.
    ///
    /// A TPM returns at most eight PCRs per TPM2_PCR_Read, so larger requests take several calls; when
    /// the TPM's PCR update counter moves between them, the read starts over so that the values
    /// returned were all current at the same moment.
    ///
    /// - Parameters:
    ///   - bank: the hash bank to read; it must be allocated on the TPM.
    ///   - indices: PCR indices in 0...23; duplicates are read once, an empty list reads nothing.
    /// - Returns: each requested index mapped to its value of `bank.digestSize` bytes.
    /// - Throws: `TPM2Error` for an index outside 0...23, a bank the TPM has not allocated, or a TPM failure.
    public func readPCRs(bank: PCRBank = .sha256, indices: [Int]) throws(TPM2Error) -> [Int: [UInt8]] {
        for index in indices { try PCRBank.validate(index) }
        let wanted = Set(indices)
        guard !wanted.isEmpty else { return [:] }
        return try withESYSContext { (context) throws(TPM2Error) -> [Int: [UInt8]] in
            for _ in 0..<Self.pcrSnapshotAttempts {
                if let snapshot = try readSnapshot(bank: bank, wanted: wanted, context: context) {
                    return snapshot
                }
            }
            throw .pcrsKeptChanging(attempts: Self.pcrSnapshotAttempts)
        }
    }

    /// Extends PCR `index` of `bank` with `digest`: the TPM sets it to H(old value ‖ digest).
    ///
    /// Uses the PCR's empty authorisation through a password session. On a real machine, extending
    /// PCRs 0–15 makes the boot state differ from the one keys were sealed to until the next reboot;
    /// PCR 16 (debug) and 23 (application) are the ones meant for tests and applications.
    ///
    /// - Throws: `TPM2Error` for an index outside 0...23, a digest whose size is not `bank.digestSize`,
    ///   a bank the TPM has not allocated, or a PCR that this locality may not extend.
    public func extendPCR(_ index: Int, bank: PCRBank = .sha256, digest: [UInt8]) throws(TPM2Error) {
        try PCRBank.validate(index)
        guard digest.count == bank.digestSize else {
            throw .invalidArgument(
                "A \(bank) PCR is extended with a \(bank.digestSize)-byte digest, not \(digest.count) bytes"
            )
        }
        var values = TPML_DIGEST_VALUES()
        values.count = 1
        values.digests.0.hashAlg = bank.algorithm
        withUnsafeMutableBytes(of: &values.digests.0.digest) { $0.copyBytes(from: digest) }
        let pcr = ESYS_TR_PCR0 + UInt32(index)
        try withESYSContext { (context) throws(TPM2Error) in
            let rc = Esys_PCR_Extend(context, pcr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &values)
            try check(rc, "Esys_PCR_Extend")
        }
    }

    /// Reads `wanted` in as many TPM2_PCR_Read calls as the TPM needs; `nil` when the update counter
    /// moved between two calls, so that the values would not belong to one moment.
    private func readSnapshot(
        bank: PCRBank,
        wanted: Set<Int>,
        context: OpaquePointer
    ) throws(TPM2Error) -> [Int: [UInt8]]? {
        var values: [Int: [UInt8]] = [:]
        var firstCounter: UInt32?
        while values.count < wanted.count {
            let remaining = wanted.subtracting(values.keys)
            let (counter, read) = try readOnce(bank: bank, indices: remaining, context: context)
            if let firstCounter, firstCounter != counter { return nil }
            firstCounter = counter
            let progress = read.filter { remaining.contains($0.key) }
            guard !progress.isEmpty else {
                throw .unusableResponse(
                    "The TPM on '\(tcti)' returned no \(bank) PCR values for \(remaining.sorted()): the bank is "
                        + "not allocated on this TPM (tpm2_getcap pcrs; tpm2_pcrallocate changes it)."
                )
            }
            values.merge(progress) { _, new in new }
        }
        return values
    }

    /// One TPM2_PCR_Read; the TPM may return only some of `indices`.
    private func readOnce(
        bank: PCRBank,
        indices: Set<Int>,
        context: OpaquePointer
    ) throws(TPM2Error) -> (counter: UInt32, values: [Int: [UInt8]]) {
        var selection = PCRSelectionList.make(bank: bank, indices: indices)
        var counter: UInt32 = 0
        var selectionOut: UnsafeMutablePointer<TPML_PCR_SELECTION>?
        var digests: UnsafeMutablePointer<TPML_DIGEST>?
        defer {
            Esys_Free(selectionOut)
            Esys_Free(digests)
        }
        let rc = Esys_PCR_Read(
            context, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &selection, &counter, &selectionOut, &digests
        )
        try check(rc, "Esys_PCR_Read")
        guard let selectionOut, let digests else {
            throw .unusableResponse("Esys_PCR_Read on '\(tcti)' succeeded without results; report this bug.")
        }
        let values = try PCRSelectionList.pair(selectionOut.pointee, with: digests.pointee, bank: bank, tcti: tcti)
        return (counter, values)
    }
}
