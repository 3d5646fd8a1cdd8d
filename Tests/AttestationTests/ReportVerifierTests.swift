import Attestation
import CryptoPrimitives
import Foundation
import HashChain
import PropertyBased
import TPM2
import Testing

/// The verifier offline: a report made with a software key and a TPMS_ATTEST the test builds as a TPM would, then
/// every way home must refuse one. The same checks over a real swtpm quote are in KeysTests (AttestationTPMTests).
@Suite("Attestation report: token and verifier")
struct ReportVerifierTests {
    static let nonce = Array("home's nonce, 32 bytes long.....".utf8)
    static let pcr0 = [UInt8](repeating: 0xA0, count: 32)
    static let pcr7 = [UInt8](repeating: 0x77, count: 32)
    static let now: Int64 = 1_796_000_000

    /// A marshalled TPMS_ATTEST of a quote over sha256 `indices` with `values`, as a TPM writes one.
    static func attest(
        nonce: [UInt8], indices: [Int] = [0, 7], values: [[UInt8]], resetCount: UInt32 = 3
    ) -> [UInt8] {
        var bytes: [UInt8] = []
        func u16(_ value: UInt16) { bytes += [UInt8(value >> 8), UInt8(value & 0xFF)] }
        func u32(_ value: UInt32) {
            for shift in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8(value >> UInt32(shift) & 0xFF)) }
        }
        func u64(_ value: UInt64) { u32(UInt32(value >> 32)); u32(UInt32(value & 0xFFFF_FFFF)) }
        func sized(_ value: [UInt8]) { u16(UInt16(value.count)); bytes += value }
        u32(0xFF54_4347)
        u16(0x8018)
        sized([0x00, 0x0B] + [UInt8](repeating: 1, count: 32))
        sized(nonce)
        u64(123_456)
        u32(resetCount)
        u32(0)
        bytes.append(1)
        u64(0x2019_0211)
        u32(1)
        u16(0x000B)
        var bitmap: [UInt8] = [0, 0, 0]
        for index in indices { bitmap[index / 8] |= 1 << (index % 8) }
        bytes.append(3)
        bytes += bitmap
        sized(SHA256.hash(values.flatMap { $0 }))
        return bytes
    }

    struct Signed {
        let key: P256PrivateKey
        let token: String
    }

    /// A report signed by `key` (new by default), its quote by `quoteKey` (the same by default).
    static func report(
        key: P256PrivateKey? = nil, quoteKey: P256PrivateKey? = nil, nonce: [UInt8] = nonce,
        quoteNonce: [UInt8]? = nil, values: [String: String]? = nil, quotedValues: [[UInt8]]? = nil,
        issuedAt: Int64 = now - 5, margin: Int = 2, edit: (inout AttestationClaims) -> Void = { _ in }
    ) throws -> Signed {
        let key = try key ?? P256PrivateKey()
        let attest = Self.attest(nonce: quoteNonce ?? nonce, values: quotedValues ?? [pcr0, pcr7])
        let quoteSignature = try (quoteKey ?? key).signature(for: attest)
        var claims = AttestationClaims(
            nonce: Base64URL.encode(nonce),
            ueid: Base64URL.encode([1] + SHA256.hash(key.publicKey.uncompressedRepresentation)),
            issuedAt: issuedAt, softwareVersion: ["0.14"], bootCount: 3, appliance: "ee-test-lu-1",
            buildDigest: String(repeating: "ab", count: 32),
            submods: .init(
                tpm: .init(
                    attest: Base64URL.encode(attest), signature: Base64URL.encode(quoteSignature), pcrs: "sha256:0,7",
                    values: values ?? ["0": Hex.encode(pcr0), "7": Hex.encode(pcr7)]),
                keys: .init(state: "unsealed", signingKey: "p256:0011223344556677"),
                array: .init(dataShards: 8, parityShards: 3, margin: margin),
                streams: [
                    "ee.population.wal": .init(length: 4096, head: String(repeating: "cd", count: 32), idleSeconds: 7)
                ]))
        edit(&claims)
        let token = try AttestationToken.make(claims, keyID: "p256:0011223344556677") { try key.signature(for: $0) }
        return Signed(key: key, token: token.compact)
    }

    static let expectations = ReportExpectations(
        nonce: nonce, measurements: [0: pcr0, 7: pcr7], minimumMargin: 1,
        streams: ["ee.population.wal": .init(length: 4096, head: String(repeating: "cd", count: 32))])

    static func verdict(
        _ signed: Signed, _ expectations: ReportExpectations = expectations, now: Int64 = now
    )
        -> ReportVerdict
    {
        ReportVerifier.verify(signed.token, key: signed.key.publicKey, expectations: expectations, now: now)
    }

    @Test("a report signed by the attestation key, with its quote, nonce and measurements, is trusted")
    func trusted() throws {
        let verdict = Self.verdict(try Self.report())
        #expect(verdict.trusted, "\(verdict)")
        #expect(verdict.description.hasPrefix("trusted: ee-test-lu-1, keys unsealed, measurements as expected"))
        #expect(verdict.claims?.submods.streams?["ee.population.wal"]?.length == 4096)
    }

    @Test(
        "each way a report can be wrong is refused, saying why",
        arguments: [
            "another verifier's nonce", "a claim altered after signing", "a quote from another TPM",
            "a PCR other than expected", "a stale report", "a quote for another nonce",
            "values the quote does not cover",
            "a redundancy margin too small", "a stream shorter than its receipt", "a stream with another head",
            "another key", "no quote", "a date at the end of time",
        ])
    func refused(_ case: String) throws {
        let verdict: ReportVerdict
        var expected = Self.expectations
        switch `case` {
        case "another verifier's nonce":
            expected.nonce = Array("another nonce".utf8)
            verdict = Self.verdict(try Self.report(), expected)
            #expect(verdict.reason.contains("nonce is not the one sent"))
        case "a claim altered after signing":
            let signed = try Self.report()
            let parts = signed.token.split(separator: ".")
            var payload = String(decoding: Base64URL.decode(parts[1])!, as: UTF8.self)
            payload = payload.replacingOccurrences(of: "\"margin\":2", with: "\"margin\":3")
            let altered = [String(parts[0]), Base64URL.encode(Array(payload.utf8)), String(parts[2])].joined(
                separator: ".")
            verdict = ReportVerifier.verify(altered, key: signed.key.publicKey, expectations: expected, now: Self.now)
            #expect(verdict.reason.contains("signature does not verify"))
        case "a quote from another TPM":
            verdict = Self.verdict(try Self.report(quoteKey: try P256PrivateKey()))
            #expect(verdict.reason.contains("not signed by the attestation key"))
        case "a PCR other than expected":
            expected.measurements[7] = [UInt8](repeating: 0x78, count: 32)
            verdict = Self.verdict(try Self.report(), expected)
            #expect(verdict.reason.contains("PCR 7 is 7777"))
        case "a stale report":
            verdict = Self.verdict(try Self.report(issuedAt: Self.now - 301))
            #expect(verdict.reason.contains("301 s old"))
        case "a quote for another nonce":
            verdict = Self.verdict(try Self.report(quoteNonce: Array("old nonce".utf8)))
            #expect(verdict.reason.contains("quote was made for another nonce"))
        case "values the quote does not cover":
            verdict = Self.verdict(try Self.report(values: ["0": Hex.encode(Self.pcr0), "7": Hex.encode(Self.pcr0)]))
            #expect(verdict.reason.contains("not the ones the TPM quoted"))
        case "a redundancy margin too small":
            verdict = Self.verdict(try Self.report(margin: 0))
            #expect(verdict.reason.contains("can lose 0 more disks"))
        case "a stream shorter than its receipt":
            expected.streams["ee.population.wal"] = .init(length: 8192)
            verdict = Self.verdict(try Self.report(), expected)
            #expect(verdict.reason.contains("holds 4096 bytes; 8192 expected"))
        case "a stream with another head":
            expected.streams["ee.population.wal"] = .init(length: 4096, head: String(repeating: "ce", count: 32))
            verdict = Self.verdict(try Self.report(), expected)
            #expect(verdict.reason.contains("has head cdcd"))
        case "another key":
            let signed = try Self.report()
            verdict = ReportVerifier.verify(
                signed.token, key: try P256PrivateKey().publicKey, expectations: expected, now: Self.now)
            #expect(verdict.reason.contains("signature does not verify"))
        case "a date at the end of time":
            verdict = Self.verdict(try Self.report(issuedAt: .min))
            #expect(verdict.reason.contains("is dated"))
            #expect(!Self.verdict(try Self.report(issuedAt: .max)).trusted)
        default:
            verdict = Self.verdict(try Self.report { $0.submods.tpm = nil })
            #expect(verdict.reason.contains("no TPM quote"))
        }
        #expect(!verdict.trusted, "\(verdict)")
    }

    @Test("any text, and any change to a valid token, is refused without a crash")
    func hostileTokens() async throws {
        let signed = try Self.report()
        let bytes = Array(signed.token.utf8)
        await propertyCheck(count: 2000, input: Gen.int(in: 0...(bytes.count - 1)), Gen.uint8()) { position, value in
            var mutated = bytes
            guard mutated[position] != value else { return }
            mutated[position] = value
            let verdict = ReportVerifier.verify(
                String(decoding: mutated, as: UTF8.self), key: signed.key.publicKey, expectations: Self.expectations,
                now: Self.now)
            // Base64url has a few digits that decode alike only with leftover bits, which decode() refuses; any
            // other change alters what the signature covers.
            #expect(!verdict.trusted, "\(position) \(value)")
        }
        await propertyCheck(count: 2000, input: Gen.uint8().array(of: 0...400)) { garbage in
            #expect(
                !ReportVerifier.verify(
                    String(decoding: garbage, as: UTF8.self), key: signed.key.publicKey,
                    expectations: Self.expectations, now: Self.now
                ).trusted)
        }
    }

    @Test("base64url round-trips every byte string and refuses padding, other alphabets and leftover bits")
    func base64url() async {
        await propertyCheck(count: 2000, input: Gen.uint8().array(of: 0...100)) { bytes in
            #expect(Base64URL.decode(Base64URL.encode(bytes)) == bytes)
        }
        #expect(Base64URL.encode(Array("hello?".utf8)) == "aGVsbG8_")
        #expect(Base64URL.decode("aGVsbG8=") == nil)
        #expect(Base64URL.decode("aGVsbG8+") == nil)
        #expect(Base64URL.decode("aGVsbG9") == nil)  // 'h','e','l','l','o' + leftover bits
        #expect(Base64URL.decode("a") == nil)
    }
}
