import CryptoPrimitives
import Foundation
import HPKE
import HashChain
import Keys
import LocalControl
import StoreFormat
import SystemPackage
import TestSupport
import Testing

/// The keys service over a real swtpm, as `saatkond keys` runs it: provisioning, unsealing, locking when the
/// measurements change, a new policy from home, unwraps, signatures, and zeroization.
@Suite("Keys service over a real TPM", .serialized, .enabled(if: SoftwareTPM.isInstalled, SoftwareTPM.missingMessage))
struct KeysServiceTests {
    /// A segment key wrapped to `publicKey` as the writer wraps it.
    static func wrapped(
        to publicKey: X25519PublicKey, stream: String = "ee.test", segment: UInt64 = 0
    ) throws -> (
        WrappedSegmentKey, SecretBytes
    ) {
        let dataKey = try CryptoRandom.secretBytes(count: 32)
        var writer = ByteWriter()
        writer.write(ShardHeader.magic)
        writer.write([UInt8](repeating: 7, count: 16))
        writer.write(stream)
        writer.write(segment)
        writer.write(Array("geometry, offset and head".utf8))
        let description = writer.bytes
        let sealed = try HPKE.seal(
            to: publicKey, info: Array("saatkond segment key v1".utf8), additionalData: description,
            plaintext: dataKey)
        return (
            WrappedSegmentKey(
                stream: stream, segment: segment, encapsulatedKey: sealed.encapsulatedKey,
                ciphertext: sealed.ciphertext,
                description: description),
            dataKey
        )
    }

    static func same(_ a: SecretBytes, _ b: SecretBytes) -> Bool {
        a.withUnsafeBytes { x in b.withUnsafeBytes { y in Array(x) == Array(y) } }
    }

    @Test("provisioned, restarted, unsealed: the socket gives ingest its keys, unwraps for a reader, signs verifiably")
    func provisionRestartUnseal() async throws {
        let fixture = try KeysFixture()
        defer { fixture.remove() }
        let report = try fixture.provision()
        try fixture.signPolicyForCurrentPCRs()
        #expect(throws: (any Error).self) { _ = try fixture.provision() }
        for _ in 0..<2 {
            let running = try await fixture.start()
            let client = KeysClient(socket: fixture.configuration.socket)
            #expect(try client.status()["state"] == "unsealed")
            let (publicKey, journalKey) = try client.storageKeys()
            #expect(publicKey == report.storagePublicKey)
            #expect(journalKey.count == 32)
            let (wrapped, dataKey) = try Self.wrapped(to: publicKey)
            #expect(Self.same(try client.segmentKeys.openSegmentKey(wrapped), dataKey))
            var altered = wrapped
            altered.description[altered.description.count - 1] ^= 1
            #expect(throws: KeysError.self) { _ = try client.segmentKeys.openSegmentKey(altered) }
            // One stream's key asked for under another stream's name, or another segment's number: refused
            // without an unwrap (and not as a damaged segment).
            var renamed = wrapped
            renamed.stream = "ee.other"
            #expect(throws: SegmentKeyUnavailable.self) { _ = try client.segmentKeys.openSegmentKey(renamed) }
            var renumbered = wrapped
            renumbered.segment = 1
            #expect(throws: SegmentKeyUnavailable.self) { _ = try client.segmentKeys.openSegmentKey(renumbered) }
            let message = Array("saatkond receipt v2 test".utf8)
            let signature = try client.sign(message)
            #expect(report.signingPublicKey.isValidSignature(signature, for: message))
            #expect(!report.signingPublicKey.isValidSignature(signature, for: message + [0]))
            try await running.stop()
        }
    }

    @Test("a PCR extended before start: locked, writing keys still given, unwraps refused; home's new policy unseals")
    func lockedThenNewPolicy() async throws {
        let fixture = try KeysFixture()
        defer { fixture.remove() }
        let report = try fixture.provision()
        try fixture.signPolicyForCurrentPCRs(named: "release-1.policy")
        try fixture.extendPCR(7)
        let measured = try fixture.currentPCRs()
        let running = try await fixture.start(unsealRetry: .milliseconds(200))
        let client = KeysClient(socket: fixture.configuration.socket)
        let status = try client.status()
        #expect(status["state"] == "locked")
        #expect(status["reason"]?.stringValue?.contains("measurements") == true, "\(status)")
        // Sealed but writable: ingest's keys and receipts go on.
        #expect(try client.storageKeys().publicKey == report.storagePublicKey)
        #expect(try client.sign(Array("saatkond receipt v2 test".utf8)).count == 64)
        let (wrapped, dataKey) = try Self.wrapped(to: report.storagePublicKey)
        let refusal = #expect(throws: SegmentKeyUnavailable.self) {
            _ = try client.segmentKeys.openSegmentKey(wrapped)
        }
        #expect(refusal?.description.contains("sealed") == true, "\(String(describing: refusal))")
        // Home approves the new measurements: the running service unseals, nothing is provisioned anew.
        try fixture.signPolicyForCurrentPCRs(named: "release-2.policy", values: measured)
        var state = ""
        for _ in 0..<100 where state != "unsealed" {
            try await Task.sleep(for: .milliseconds(50))
            state = try client.status()["state"]?.stringValue ?? ""
        }
        #expect(state == "unsealed")
        #expect(Self.same(try client.segmentKeys.openSegmentKey(wrapped), dataKey))
        try await running.stop()
    }

    @Test("a policy not signed by home's key, or for other PCR values, unseals nothing")
    func foreignPolicy() async throws {
        let fixture = try KeysFixture()
        defer { fixture.remove() }
        _ = try fixture.provision()
        let stranger = try P256PrivateKey()
        let values = [0: [UInt8](repeating: 0, count: 32), 7: [UInt8](repeating: 0, count: 32)]
        let forged = try SignedPolicy.sign(
            pcrs: KeysFixture.pcrs, policy: try PolicyCalculation.digest(KeysFixture.pcrs, values: values),
            with: stranger)
        try forged.text.write(
            toFile: "\(fixture.configuration.policyDirectory)/forged.policy", atomically: true, encoding: .utf8)
        let running = try await fixture.start()
        let status = try KeysClient(socket: fixture.configuration.socket).status()
        #expect(status["state"] == "locked")
        #expect(status["reason"]?.stringValue?.contains("not signed by home") == true, "\(status)")
        try await running.stop()
    }

    @Test("the intrusion switch zeroizes: objects evicted, blobs gone, and blobs copied before are useless")
    func intrusionZeroizes() async throws {
        let fixture = try KeysFixture()
        defer { fixture.remove() }
        let report = try fixture.provision()
        try fixture.signPolicyForCurrentPCRs()
        let copy = "\(fixture.scratch.path)/copied-state"
        try FileManager.default.copyItem(atPath: fixture.configuration.stateDirectory, toPath: copy)
        let (wrapped, _) = try Self.wrapped(to: report.storagePublicKey)
        do {
            let running = try await fixture.start()
            let client = KeysClient(socket: fixture.configuration.socket)
            _ = try client.segmentKeys.openSegmentKey(wrapped)
            try "1\n".write(toFile: fixture.configuration.intrusion!, atomically: true, encoding: .utf8)
            var state = ""
            for _ in 0..<100 where state != "zeroized" {
                try await Task.sleep(for: .milliseconds(50))
                state = try client.status()["state"]?.stringValue ?? ""
            }
            #expect(state == "zeroized")
            #expect(throws: SegmentKeyUnavailable.self) { _ = try client.segmentKeys.openSegmentKey(wrapped) }
            #expect(throws: (any Error).self) { _ = try client.storageKeys() }
            #expect(throws: (any Error).self) { _ = try client.sign([1]) }
            try await running.stop()
        }
        #expect(!FileManager.default.fileExists(atPath: fixture.files.storageSealed.string))
        #expect(!FileManager.default.fileExists(atPath: fixture.files.journalSealed.string))
        // A restart stays zeroized.
        do {
            let running = try await fixture.start()
            #expect(try KeysClient(socket: fixture.configuration.socket).status()["state"] == "zeroized")
            try await running.stop()
        }
        let audit = try String(contentsOfFile: fixture.files.auditLog.string, encoding: .utf8)
        #expect(audit.contains("keys.zeroized"))
        // The state directory as it was before, put back, and the switch closed again (else it zeroizes at once):
        // the TPM's parent is gone, so nothing unseals.
        try "0\n".write(toFile: fixture.configuration.intrusion!, atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(atPath: fixture.configuration.stateDirectory)
        try FileManager.default.moveItem(atPath: copy, toPath: fixture.configuration.stateDirectory)
        let running = try await fixture.start()
        let client = KeysClient(socket: fixture.configuration.socket)
        let status = try client.status()
        #expect(status["state"] == "locked", "\(status)")
        #expect(throws: SegmentKeyUnavailable.self) { _ = try client.segmentKeys.openSegmentKey(wrapped) }
        try await running.stop()
    }

    @Test(
        "a decommission order zeroizes only with the quorum of home's keys, naming these keys; every order is audited")
    func decommission() async throws {
        let fixture = try KeysFixture()
        defer { fixture.remove() }
        let report = try fixture.provision()
        try fixture.signPolicyForCurrentPCRs()
        let board = try (0..<3).map { _ in try P256PrivateKey() }
        let running = try await fixture.start(
            decommission: DecommissionPolicy(keys: board.map(\.publicKey), quorum: 2, appliance: "ee-test-1"))
        let order = """
            saatkond decommission v1
            appliance = ee-test-1
            storage-public-key = \(Hex.encode(report.storagePublicKey.rawRepresentation))
            issued = 2026-12-06T10:00:00Z
            reason = test

            """
        func ask(_ signers: [P256PrivateKey]) throws -> [String: JSONValue] {
            try LocalControlClient.request(
                path: fixture.configuration.socket, op: "decommission",
                body: [
                    "order": .string(order),
                    "signatures": .array(
                        try signers.map { .string(Hex.encode(try $0.signature(for: Array(order.utf8)))) }),
                ], timeout: .seconds(30))
        }
        let one = try ask([board[1]])
        #expect(one["error"]?.stringValue?.contains("2 are needed") == true, "\(one)")
        #expect(try KeysClient(socket: fixture.configuration.socket).status()["state"] == "unsealed")
        let quorum = try ask([board[2], board[0]])
        #expect(quorum["state"] == "zeroized", "\(quorum)")
        try await running.stop()
        let audit = try String(contentsOfFile: fixture.files.auditLog.string, encoding: .utf8)
        #expect(audit.contains("keys.provisioned"))
        #expect(audit.contains("keys.decommission-refused"))
        #expect(audit.contains("keys.decommission-accepted"))
        #expect(audit.contains("keys.zeroized"))
        #expect(!FileManager.default.fileExists(atPath: fixture.files.storageSealed.string))
    }

    @Test(
        "peer credentials decide: ingest gets its keys but no unwrap, a reader unwraps, a stranger gets nothing",
        .enabled(if: UnprivilegedUser.canSwitch && Command.locate("socat") != nil, "needs root, setpriv and socat"))
    func peerCredentials() async throws {
        let ingest = UnprivilegedUser(id: 64_301, group: 64_300)
        let reader = UnprivilegedUser(id: 64_302, group: 64_300)
        let stranger = UnprivilegedUser(id: 64_303, group: 64_300)
        let signer = UnprivilegedUser(id: 64_304, group: 64_300)
        let fixture = try KeysFixture(
            readerUID: reader.id, ingestUID: ingest.id, signerUID: signer.id, socketGroup: 64_300)
        defer { fixture.remove() }
        let report = try fixture.provision()
        try fixture.signPolicyForCurrentPCRs()
        let running = try await fixture.start()
        let (wrapped, _) = try Self.wrapped(to: report.storagePublicKey)
        let unwrap =
            #"{"op":"unwrap","stream":"ee.test","segment":0,"encapsulated-key":"\#(Hex.encode(wrapped.encapsulatedKey))","#
            + #""wrapped-key":"\#(Hex.encode(wrapped.ciphertext))","description":"\#(Hex.encode(wrapped.description))"}"#
        let receipt = #"{"op":"sign","message":"\#(Hex.encode(Array("saatkond receipt v2 x".utf8)))"}"#
        func ask(_ request: String, as user: UnprivilegedUser) throws -> String {
            try user.ask(request, socket: fixture.configuration.socket, scratch: fixture.scratch.path).answer
        }
        #expect(try ask(#"{"op":"storage-keys"}"#, as: ingest).contains("secret-bytes"))
        let ingestUnwrap = try ask(unwrap, as: ingest)
        #expect(ingestUnwrap.contains(#""refused":true"#), "\(ingestUnwrap)")
        #expect(ingestUnwrap.contains("not allowed for uid 64301"), "\(ingestUnwrap)")
        #expect(try ask(unwrap, as: reader).contains(#""secret-bytes":32"#))
        // A reader reads open tails, so it has the journal key too; never a signature.
        #expect(try ask(#"{"op":"storage-keys"}"#, as: reader).contains("secret-bytes"))
        #expect(try ask(receipt, as: reader).contains(#""refused":true"#))
        for op in ["status", "storage-keys", "sign"] {
            #expect(try ask(#"{"op":"\#(op)","message":"00"}"#, as: stranger).contains(#""refused":true"#))
        }
        #expect(try ask(unwrap, as: stranger).contains(#""refused":true"#))
        // Ingest has receipts signed and nothing else; the health service anything but receipts.
        let attestation = #"{"op":"sign","message":"\#(Hex.encode(Array("eat report".utf8)))"}"#
        #expect(try ask(receipt, as: ingest).contains(#""signature":"#))
        #expect(try ask(attestation, as: ingest).contains(#""refused":true"#))
        #expect(try ask(attestation, as: signer).contains(#""signature":"#))
        #expect(try ask(receipt, as: signer).contains(#""refused":true"#))
        #expect(try ask(unwrap, as: signer).contains(#""refused":true"#))
        // Quotes of the measurements are for the signers (the health service) alone.
        let quote = #"{"op":"quote","nonce":"00112233"}"#
        #expect(try ask(quote, as: signer).contains(#""attest":"#))
        for user in [ingest, reader, stranger] {
            #expect(try ask(quote, as: user).contains(#""refused":true"#))
        }
        try await running.stop()
    }
}

extension KeysServiceTests {
    @Test("the watchdog's TPM check passes while the TPM answers, fails with the reason while it hangs, and recovers")
    func vaultAnswersCheck() async throws {
        let fixture = try KeysFixture()
        defer { fixture.remove() }
        let check = VaultAnswersCheck(vault: try TPMKeyVault(configuration: fixture.configuration))
        #expect(await check.check(deadline: .seconds(5)) == .passed)
        fixture.tpm.send(SIGSTOP)
        let hung = await check.check(deadline: .milliseconds(300))
        fixture.tpm.send(SIGCONT)
        guard case .failed(let reason) = hung else {
            Issue.record("a hung TPM passed the check")
            return
        }
        #expect(reason.contains("the TPM does not answer"), "\(reason)")
        #expect(await check.check(deadline: .seconds(10)) == .passed)
    }
}
