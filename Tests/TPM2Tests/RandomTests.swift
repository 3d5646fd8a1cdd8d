import TPM2
import TestSupport
import Testing

/// Random bytes from a real swtpm's RNG.
@Suite(.enabled(if: SoftwareTPM.isInstalled, SoftwareTPM.missingMessage))
struct RandomTests {
    /// 100 is more than one TPM2_GetRandom returns (at most 64), so the connection must ask again.
    @Test(arguments: [1, 32, 100, 1000])
    func returnsExactlyTheRequestedCount(count: Int) throws {
        try SoftwareTPM.run { swtpm in
            let tpm = try TPMConnection(tcti: swtpm.tcti)
            #expect(try tpm.randomBytes(count: count).count == count)
        }
    }

    /// Two 32-byte draws collide with probability 2^-256; equal draws mean a broken loop or buffer.
    @Test func twoDrawsDiffer() throws {
        try SoftwareTPM.run { swtpm in
            let tpm = try TPMConnection(tcti: swtpm.tcti)
            let first = try tpm.randomBytes(count: 32)
            let second = try tpm.randomBytes(count: 32)
            #expect(first != second)
        }
    }

    /// The two TPM responses that make up 100 bytes must be different responses, not one repeated.
    @Test func theResponsesOfOneDrawDiffer() throws {
        try SoftwareTPM.run { swtpm in
            let tpm = try TPMConnection(tcti: swtpm.tcti)
            let bytes = try tpm.randomBytes(count: 100)
            #expect(bytes[0..<36] != bytes[64..<100])
        }
    }

    /// Zero asks the TPM nothing; a negative count is the caller's bug.
    @Test func zeroIsEmptyAndNegativeThrows() throws {
        try SoftwareTPM.run { swtpm in
            let tpm = try TPMConnection(tcti: swtpm.tcti)
            #expect(try tpm.randomBytes(count: 0).isEmpty)
            let error = try #require(throws: TPM2Error.self) { try tpm.randomBytes(count: -1) }
            #expect(error.responseCode == nil)
            #expect(error.description.contains("-1"))
        }
    }
}
