import TPM2
import TestSupport
import Testing

/// Reading and extending the PCRs of a real swtpm.
@Suite(.enabled(if: SoftwareTPM.isInstalled, SoftwareTPM.missingMessage))
struct PCRTests {
    /// All 24 PCRs take several TPM2_PCR_Read calls (at most eight values each), so this exercises the
    /// loop over what remains.
    @Test func readsAllTwentyFourSHA256PCRs() throws {
        try SoftwareTPM.run { swtpm in
            let tpm = try TPMConnection(tcti: swtpm.tcti)
            let values = try tpm.readPCRs(bank: .sha256, indices: Array(0...23))
            #expect(values.keys.sorted() == Array(0...23))
            #expect(values.values.allSatisfy { $0.count == 32 })
            // PC Client Platform TPM Profile: after TPM2_Startup(CLEAR) PCRs 0–16 and 23 are all zeros
            // and the dynamic-launch PCRs 17–22 all ones, until something extends them.
            #expect((0...16).allSatisfy { values[$0] == [UInt8](repeating: 0, count: 32) })
            #expect((17...22).allSatisfy { values[$0] == [UInt8](repeating: 0xFF, count: 32) })
            #expect(values[23] == [UInt8](repeating: 0, count: 32))
        }
    }

    /// Each bank's values have that bank's digest size.
    @Test(arguments: PCRBank.allCases)
    func readsEachBankWithItsDigestSize(bank: PCRBank) throws {
        try SoftwareTPM.run { swtpm in
            let tpm = try TPMConnection(tcti: swtpm.tcti)
            let values = try tpm.readPCRs(bank: bank, indices: [0, 16, 23])
            #expect(values.keys.sorted() == [0, 16, 23])
            #expect(values.values.allSatisfy { $0.count == bank.digestSize })
        }
    }

    /// Extending the debug PCR sets it to SHA-256(old ‖ digest), computed here independently; a second
    /// extend chains on the first; no other PCR moves.
    @Test func extendingTheDebugPCRChainsSHA256() throws {
        try SoftwareTPM.run { swtpm in
            let tpm = try TPMConnection(tcti: swtpm.tcti)
            let before = try tpm.readPCRs(indices: Array(0...23))
            let old = try #require(before[16])
            let first = SHA256.hash(Array("saatkond measurement one".utf8))
            let second = SHA256.hash(Array("saatkond measurement two".utf8))

            try tpm.extendPCR(16, bank: .sha256, digest: first)
            let once = try #require(try tpm.readPCRs(indices: [16])[16])
            #expect(hex(once) == hex(SHA256.hash(old + first)))

            try tpm.extendPCR(16, digest: second)
            let after = try tpm.readPCRs(indices: Array(0...23))
            #expect(after[16].map(hex) == hex(SHA256.hash(once + second)))
            #expect(after.filter { $0.key != 16 } == before.filter { $0.key != 16 })
        }
    }

    /// Duplicates are read once; an empty list asks the TPM nothing.
    @Test func readsDuplicatesOnceAndNothingForAnEmptyList() throws {
        try SoftwareTPM.run { swtpm in
            let tpm = try TPMConnection(tcti: swtpm.tcti)
            #expect(try tpm.readPCRs(indices: [16, 16, 23]).keys.sorted() == [16, 23])
            #expect(try tpm.readPCRs(indices: []).isEmpty)
        }
    }

    /// Indices outside 0...23 and digests of the wrong size are refused before reaching the TPM.
    @Test func refusesInvalidIndicesAndDigests() throws {
        try SoftwareTPM.run { swtpm in
            let tpm = try TPMConnection(tcti: swtpm.tcti)
            for index in [-1, 24, 1000] {
                let read = try #require(throws: TPM2Error.self) { try tpm.readPCRs(indices: [0, index]) }
                #expect(read.responseCode == nil)
                #expect(read.description.contains("PCR index \(index) does not exist"))
                #expect(throws: TPM2Error.self) { try tpm.extendPCR(index, digest: [UInt8](repeating: 1, count: 32)) }
            }
            let short = try #require(throws: TPM2Error.self) {
                try tpm.extendPCR(16, bank: .sha256, digest: [UInt8](repeating: 1, count: 20))
            }
            #expect(short.description.contains("32-byte digest, not 20 bytes"))
            // Nothing reached the TPM: PCR 16 is still in its reset state.
            #expect(try tpm.readPCRs(indices: [16])[16] == [UInt8](repeating: 0, count: 32))
        }
    }

    /// PCRs 0–15 may be extended from locality 0 and 17–22 may not (PC Client profile); the TPM's own
    /// refusal must arrive as a TPM-layer TPM2Error saying what to do.
    @Test func theTPMsRefusalIsATPM2Error() throws {
        try SoftwareTPM.run { swtpm in
            let tpm = try TPMConnection(tcti: swtpm.tcti)
            let error = try #require(throws: TPM2Error.self) {
                try tpm.extendPCR(17, digest: [UInt8](repeating: 1, count: 32))
            }
            let code = try #require(error.responseCode)
            #expect(code >> 16 == 0)
            #expect(error.description.contains("Esys_PCR_Extend"))
            #expect(error.description.contains("not allowed from this locality"))
        }
    }

    /// A bank the TPM has not allocated yields no values; the read must end with an error that says
    /// so instead of asking again forever.
    @Test(.enabled(if: SoftwareTPM.canAllocateBanks, "needs swtpm_setup (swtpm-tools) to choose the PCR banks"))
    func anUnallocatedBankIsAnError() throws {
        try SoftwareTPM.run(banks: [.sha256]) { swtpm in
            let tpm = try TPMConnection(tcti: swtpm.tcti)
            #expect(try tpm.readPCRs(bank: .sha256, indices: [0]).count == 1)
            let error = try #require(throws: TPM2Error.self) { try tpm.readPCRs(bank: .sha1, indices: [0, 16]) }
            #expect(error.description.contains("not allocated"))
        }
    }
}
