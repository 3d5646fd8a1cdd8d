import TPM2
import TestSupport
import Testing

/// Connecting to a real swtpm, with and without the startup that firmware normally sends.
@Suite(.enabled(if: SoftwareTPM.isInstalled, SoftwareTPM.missingMessage))
struct ConnectionTests {
    /// swtpm started with startup-clear, like a TPM after firmware: the connection's own TPM2_Startup
    /// gets TPM_RC_INITIALIZE, which must be taken as success.
    @Test func connectsToATPMThatIsAlreadyStarted() throws {
        try SoftwareTPM.run { swtpm in
            let tpm = try TPMConnection(tcti: swtpm.tcti)
            #expect(tpm.tcti == swtpm.tcti)
            #expect(try tpm.randomBytes(count: 8).count == 8)
        }
    }

    /// A TPM nobody started refuses every command with TPM_RC_INITIALIZE, so a working command after
    /// connecting proves that the connection sent TPM2_Startup itself.
    @Test func startsATPMThatNobodyStarted() throws {
        try SoftwareTPM.run(startsUp: false) { swtpm in
            let tpm = try TPMConnection(tcti: swtpm.tcti)
            #expect(try tpm.randomBytes(count: 8).count == 8)
        }
    }

    /// swtpm serves one client at a time, so a second connection only works if dropping the first one
    /// really closed its TCTI (and finalized ESAPI before it).
    @Test func reconnectsAfterTheLastReferenceIsDropped() throws {
        try SoftwareTPM.run { swtpm in
            for _ in 1...3 {
                let tpm = try TPMConnection(tcti: swtpm.tcti)
                #expect(try tpm.readPCRs(indices: [0]).count == 1)
            }
        }
    }

    /// One connection shared by concurrent tasks: ESAPI is not thread-safe, so the connection must
    /// serialise the calls; every task must still get its full answer.
    @Test func servesConcurrentCallersOneAtATime() async throws {
        try await SoftwareTPM.run { swtpm in
            let tpm = try TPMConnection(tcti: swtpm.tcti)
            let lengths = try await withThrowingTaskGroup(of: Int.self) { group in
                for task in 0..<8 {
                    group.addTask { try tpm.randomBytes(count: 50 + task).count - task }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(lengths == Array(repeating: 50, count: 8))
        }
    }
}

/// Connections that cannot work must fail with a message that says what to check; no swtpm needed.
struct UnreachableTPMTests {
    /// A port with nothing listening: the socket TCTI fails to connect while loading.
    @Test func nothingListeningGivesAnErrorThatSaysWhatToCheck() throws {
        let port = try LoopbackPort.unused()
        let tcti = "swtpm:host=127.0.0.1,port=\(port)"
        let error = try #require(throws: TPM2Error.self) { try TPMConnection(tcti: tcti) }
        #expect(error.description.contains(tcti))
        #expect(error.description.contains("is swtpm running on that port"))
        // Top byte of the response code is the layer that failed: 10 is the TCTI.
        let layer = try #require(error.responseCode) >> 16
        #expect(layer == 10)
    }

    /// A device TCTI whose device does not exist gets advice about the device, not about swtpm.
    @Test func aMissingDeviceGivesAnErrorAboutTheDevice() throws {
        let tcti = "device:/nonexistent/saatkond-tpmrm0"
        let error = try #require(throws: TPM2Error.self) { try TPMConnection(tcti: tcti) }
        #expect(error.description.contains(tcti))
        #expect(error.description.contains("The TPM device could not be used"))
    }

    /// A TCTI name no library provides.
    @Test func unknownTCTIGivesAnError() throws {
        let error = try #require(throws: TPM2Error.self) { try TPMConnection(tcti: "saatkond-no-such-tcti:x") }
        #expect(error.responseCode != nil)
        #expect(error.description.contains("saatkond-no-such-tcti"))
        #expect(error.description.contains("No TCTI library answers to that name"))
    }
}
