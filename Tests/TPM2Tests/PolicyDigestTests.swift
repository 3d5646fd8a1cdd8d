import TestSupport
import Testing

@testable import TPM2

/// The offline policy maths home runs at a workstation must give exactly what the TPM computes.
@Suite(.enabled(if: SoftwareTPM.isInstalled, SoftwareTPM.missingMessage))
struct PolicyDigestTests {
    /// PolicyPCR's digest from the values `readPCRs` returns equals the TPM's trial session, before and after
    /// an extend, for one PCR, several, and one in each bitmap byte.
    @Test(arguments: [[16], [0, 7, 16], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 23]])
    func pcrPolicyEqualsTheTPMs(indices: [Int]) throws {
        try SoftwareTPM.run { swtpm in
            let tpm = try TPMConnection(tcti: swtpm.tcti)
            let selection = try PCRSelection(bank: .sha256, indices: indices)
            for round in 0..<2 {
                if round == 1 { try tpm.extendPCR(16, digest: [UInt8](repeating: 0xA5, count: 32)) }
                let values = try tpm.readPCRs(bank: .sha256, indices: indices)
                let offline = try PolicyDigest.pcr(selection: selection, values: values)
                #expect(offline == (try tpm.currentPCRPolicy(selection)))
            }
            try expectNothingLeftLoaded(tpm)
        }
    }

    /// The name the TPM gives a loaded verification key, and PolicyAuthorize's digest in a trial session.
    @Test func signerNameAndAuthorizePolicyEqualTheTPMs() throws {
        try SoftwareTPM.run { swtpm in
            let tpm = try TPMConnection(tcti: swtpm.tcti)
            let home = try HomeKey()
            defer { home.remove() }
            #expect(home.publicKey.name.count == 34)
            #expect(home.publicKey.name == (try tpm.loadedName(of: home.publicKey)))
            for reference in [[], Array("saatkond storage key".utf8), [UInt8](repeating: 0xEE, count: 32)] {
                let offline = try PolicyDigest.authorize(signerName: home.publicKey.name, policyRef: reference)
                #expect(offline == (try tpm.trialAuthorizePolicy(signer: home.publicKey, policyRef: reference)))
            }
            try expectNothingLeftLoaded(tpm)
        }
    }
}

/// The pure parts, without a TPM.
struct PolicyDigestArgumentTests {
    @Test func refusesMissingValuesAndOversizedArguments() throws {
        let selection = try PCRSelection(indices: [0, 7])
        let zero = [UInt8](repeating: 0, count: 32)
        #expect(throws: TPM2Error.self) { try PolicyDigest.pcr(selection: selection, values: [0: zero]) }
        #expect(throws: TPM2Error.self) { try PolicyDigest.pcr(selection: selection, values: [0: zero, 7: [1]]) }
        #expect(throws: TPM2Error.self) {
            try PolicyDigest.authorize(signerName: zero, policyRef: [UInt8](repeating: 0, count: 33))
        }
        #expect(throws: TPM2Error.self) { try PolicyDigest.approvalDigest(approvedPolicy: [1], policyRef: []) }
        #expect(throws: TPM2Error.self) { try PCRSelection(indices: []) }
        #expect(throws: TPM2Error.self) { try PCRSelection(indices: [24]) }
        #expect(try PCRSelection(indices: [7, 0, 7]).indices == [0, 7])
        #expect(try PCRSelection(indices: [7, 0]).description == "sha256:0,7")
    }

    /// The approval digest is SHA-256(policy ‖ reference), checked against the test's own SHA-256.
    @Test func approvalDigestIsTheHashOfPolicyAndReference() throws {
        let policy = (0..<32).map { UInt8($0) }
        let reference = Array("ref".utf8)
        #expect(
            try PolicyDigest.approvalDigest(approvedPolicy: policy, policyRef: reference)
                == SHA256.hash(policy + reference))
    }
}
