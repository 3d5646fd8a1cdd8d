import Attestation
import CryptoPrimitives
import CustodyLog
import Foundation
import HashChain
import Health
import Keys
import SystemPackage
import TPM2
import TestSupport
import Testing

/// Attestation reports as the appliance makes them: a real swtpm's quote with the verifier's nonce, signed with
/// the TPM-resident key through the keys socket; checked by `ReportVerifier` and by a second implementation
/// (Python's PyJWT and cryptography).
@Suite(
    "Attestation reports over a real TPM", .serialized,
    .enabled(if: SoftwareTPM.isInstalled, SoftwareTPM.missingMessage))
struct AttestationTPMTests {
    static let python = "/usr/bin/python3"

    static func verify(
        _ token: CompactJWS, key: P256PublicKey, nonce: [UInt8], measurements: [Int: [UInt8]], now: Int64? = nil
    ) -> ReportVerdict {
        ReportVerifier.verify(
            token.compact, key: key,
            expectations: ReportExpectations(nonce: nonce, measurements: measurements, minimumMargin: 1),
            now: now ?? Int64(Date().timeIntervalSince1970))
    }

    @Test("a report verifies, PyJWT reads it, and a wrong nonce, another TPM's quote, a PCR or a stale time is refused")
    func reportsOverTheTPM() async throws {
        let fixture = try KeysFixture()
        defer { fixture.remove() }
        let provisioned = try fixture.provision()
        try fixture.signPolicyForCurrentPCRs()
        let measurements = try fixture.currentPCRs()
        let running = try await fixture.start()
        let keys = KeysClient(socket: fixture.configuration.socket)
        let reporter = AttestationReporter(keys: keys, applianceName: "ee-test-1", version: "test")
        // The custody log's head, as the disks service reports it.
        let auditPath = FilePath("\(fixture.scratch.path)/custody.log")
        let audit = try CustodyLog(path: auditPath)
        defer { audit.close() }
        for bay in 1...3 { try audit.append(CustodyEvent("disk.inserted", ["bay": "\(bay)", "wwn": "0x50\(bay)"])) }
        let head = audit.headSummary
        let facts = ApplianceFacts(
            array: .init(dataShards: 8, parityShards: 3, margin: 3),
            audit: .init(records: Int(head.records), head: head.head, copies: head.copies))
        let nonce = try CryptoRandom.bytes(count: 32)
        let token = try reporter.report(nonce: nonce, facts: facts)
        let key = provisioned.signingPublicKey
        let verdict = Self.verify(token, key: key, nonce: nonce, measurements: measurements)
        #expect(verdict.trusted, "\(verdict)")
        #expect(verdict.claims?.submods.keys.state == "unsealed")
        #expect(verdict.claims?.bootCount != nil)
        #expect(verdict.claims?.ueid == Base64URL.encode(AttestationReporter.ueid(of: key)))

        // Another verifier's nonce, a stale report.
        #expect(
            Self.verify(token, key: key, nonce: Array("another".utf8), measurements: measurements).reason.contains(
                "nonce"))
        let stale = Self.verify(
            token, key: key, nonce: nonce, measurements: measurements, now: verdict.claims!.issuedAt + 301)
        #expect(!stale.trusted && stale.reason.contains("301 s old"), "\(stale)")

        // A second implementation reads the token: PyJWT verifies ES256 with the PEM public key.
        try Self.checkWithPyJWT(token: token.compact, key: key, nonce: nonce, in: fixture.scratch.path)
        try Self.checkWithVerifyCommand(
            token: token.compact, key: key, nonce: nonce, measurements: measurements, in: fixture.scratch.path)
        try Self.checkAuditExcerpts(
            token: token.compact, nonce: nonce, measurements: measurements, log: audit, in: fixture.scratch.path)
        // The head moves with every action: the excerpt that ended at the signed head does not end at the new one.
        let excerpt = Array(
            try audit.excerpt(from: 1, count: 10, maximumBytes: 1 << 20).map { $0 + "\n" }.joined().utf8)
        try audit.append(CustodyEvent("disk.removed", ["bay": "2"]))
        #expect(audit.headSummary.head != head.head && audit.headSummary.records == head.records + 1)
        #expect(throws: CustodyLogError.self) {
            try CustodyLog.verify(excerpt: excerpt, endingAt: audit.headSummary.head)
        }

        // Another TPM's quote in a report this appliance signed: refused.
        let other = try KeysFixture()
        defer { other.remove() }
        _ = try other.provision()
        let otherRunning = try await other.start()
        let foreign = try KeysClient(socket: other.configuration.socket).quote(nonce: nonce)
        try await otherRunning.stop()
        var claims = verdict.claims!
        claims.submods.tpm = .init(
            attest: Base64URL.encode(foreign.attest), signature: Base64URL.encode(foreign.signature),
            pcrs: foreign.pcrs.description,
            values: Dictionary(uniqueKeysWithValues: foreign.values.map { ("\($0.key)", Hex.encode($0.value)) }))
        let spliced = try AttestationToken.make(claims, keyID: "p256:x") { try keys.sign($0) }
        let splicedVerdict = Self.verify(spliced, key: key, nonce: nonce, measurements: measurements)
        #expect(!splicedVerdict.trusted && splicedVerdict.reason.contains("another TPM"), "\(splicedVerdict)")
        try await running.stop()

        // Another boot's measurements: the keys stay locked, the report says so, and its quote fails home's
        // expected PCR 7.
        try fixture.extendPCR(7)
        let restarted = try await fixture.start()
        let afterNonce = try CryptoRandom.bytes(count: 16)
        let after = try reporter.report(nonce: afterNonce, facts: facts)
        let changed = Self.verify(after, key: key, nonce: afterNonce, measurements: measurements)
        #expect(!changed.trusted && changed.reason.contains("PCR 7 is"), "\(changed)")
        #expect(changed.claims?.submods.keys.state == "locked")
        try await restarted.stop()
    }

    /// `saatkond verify REPORT` as home runs it: one line, exit 0 only when trusted.
    static func checkWithVerifyCommand(
        token: String, key: P256PublicKey, nonce: [UInt8], measurements: [Int: [UInt8]], in directory: String
    ) throws {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("saatkond").path
        try key.pemRepresentation.write(toFile: "\(directory)/verify-key.pem", atomically: true, encoding: .utf8)
        try token.write(toFile: "\(directory)/report.txt", atomically: true, encoding: .utf8)
        let arguments =
            ["verify", "\(directory)/report.txt", "--public-key", "\(directory)/verify-key.pem"]
            + measurements.sorted { $0.key < $1.key }.flatMap { ["--pcr", "\($0.key)=\(Hex.encode($0.value))"] }
        let trusted = try Command.run(executable, arguments + ["--nonce", Hex.encode(nonce)])
        #expect(trusted.hasPrefix("trusted: ee-test-1, keys unsealed, measurements as expected"), "\(trusted)")
        for (extra, reason) in [
            (["--nonce", "00"], "not trusted: the nonce is not the one sent"),
            (["--nonce", Hex.encode(nonce), "--min-margin", "4"], "not trusted: the array (8 + 3) can lose 3 more"),
            ([], "give --nonce HEX"),
        ] {
            let error = #expect(throws: Command.Failure.self) { try Command.run(executable, arguments + extra) }
            #expect(error?.description.contains(reason) == true, "\(String(describing: error))")
        }
        // Without expected measurements any software would pass: refused unless asked for by name.
        let bare = [
            "verify", "\(directory)/report.txt", "--public-key", "\(directory)/verify-key.pem", "--nonce",
            Hex.encode(nonce),
        ]
        let error = #expect(throws: Command.Failure.self) { try Command.run(executable, bare) }
        #expect(error?.description.contains("give --pcr") == true, "\(String(describing: error))")
        #expect(try Command.run(executable, bare + ["--no-measurements"]).contains("no measurements expected"))
    }

    /// `saatkond verify --audit EXCERPT`: whole records of the custody log that end at the report's signed head are
    /// trusted; an altered line, a cut end or a removed line is refused, with the reason.
    static func checkAuditExcerpts(
        token: String, nonce: [UInt8], measurements: [Int: [UInt8]], log: CustodyLog, in directory: String
    ) throws {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("saatkond").path
        let lines = try log.excerpt(from: 2, count: 100, maximumBytes: 1 << 20)
        #expect(lines.count == 2)
        let arguments =
            [
                "verify", "\(directory)/report.txt", "--public-key", "\(directory)/verify-key.pem", "--nonce",
                Hex.encode(nonce), "--audit", "\(directory)/excerpt.log",
            ] + measurements.sorted { $0.key < $1.key }.flatMap { ["--pcr", "\($0.key)=\(Hex.encode($0.value))"] }
        let write = { (text: String) in
            try text.write(toFile: "\(directory)/excerpt.log", atomically: true, encoding: .utf8)
        }
        try write(lines.map { $0 + "\n" }.joined())
        let trusted = try Command.run(executable, arguments)
        #expect(trusted.contains("audit excerpt ends at the head (record 3)"), "\(trusted)")
        let altered = lines[0].replacingOccurrences(of: "\"bay\":\"2\"", with: "\"bay\":\"9\"")
        #expect(altered != lines[0])
        for (excerpt, reason) in [
            (altered + "\n" + lines[1] + "\n", "line 1: its hash does not match"),
            (lines[0] + "\n", "not the head"),
            (lines[1] + "\n" + lines[0] + "\n", "line 2: seq is 2 after 3"),
            (lines[0] + "\n" + lines[1], "cut short"),
        ] {
            try write(excerpt)
            let error = #expect(throws: Command.Failure.self) { try Command.run(executable, arguments) }
            #expect(
                error?.description.contains("the audit excerpt is not the log the report signed") == true
                    && error?.description.contains(reason) == true,
                "\(String(describing: error))")
        }
    }

    static func checkWithPyJWT(token: String, key: P256PublicKey, nonce: [UInt8], in directory: String) throws {
        guard FileManager.default.isExecutableFile(atPath: python) else {
            Issue.record("\(python) is missing: scripts/setup installs python3-jwt and python3-cryptography")
            return
        }
        try key.pemRepresentation.write(toFile: "\(directory)/attestation.pem", atomically: true, encoding: .utf8)
        try token.write(toFile: "\(directory)/report.jwt", atomically: true, encoding: .utf8)
        let script = """
            import jwt, sys
            key = open(sys.argv[1]).read()
            token = open(sys.argv[2]).read().strip()
            claims = jwt.decode(token, key, algorithms=["ES256"], options={"require": ["iat"]})
            print(claims["eat_nonce"], claims["swname"], claims["submods"]["keys"]["state"])
            header = jwt.get_unverified_header(token)
            print(header["alg"], header["kid"])
            """
        try script.write(toFile: "\(directory)/check.py", atomically: true, encoding: .utf8)
        let output = try Command.run(
            python, ["\(directory)/check.py", "\(directory)/attestation.pem", "\(directory)/report.jwt"])
        #expect(output.hasPrefix("\(Base64URL.encode(nonce)) saatkond unsealed\nES256 p256:"), "\(output)")
        // Altered by one claim, PyJWT refuses it too.
        let parts = token.split(separator: ".")
        let payload = String(decoding: Base64URL.decode(parts[1])!, as: UTF8.self)
            .replacingOccurrences(of: "\"unsealed\"", with: "\"unsealez\"")
        try [String(parts[0]), Base64URL.encode(Array(payload.utf8)), String(parts[2])].joined(separator: ".").write(
            toFile: "\(directory)/report.jwt", atomically: true, encoding: .utf8)
        #expect(
            (try? Command.run(
                python, ["\(directory)/check.py", "\(directory)/attestation.pem", "\(directory)/report.jwt"]))
                == nil)
    }
}
