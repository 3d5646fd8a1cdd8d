import Attestation
import CryptoPrimitives
import Foundation
import HashChain

extension KeysBenchmark {
    /// `KeysBenchmark verify-report TOKEN PUBLIC-KEY` (from `Benchmarks/attest/run`): `saatkond verify`'s check of
    /// one report — the ES256 signature, the claims, the quote's signature and digest — 200 times in this process,
    /// so that a process's start is not counted; prints p50.
    static func verifyReport(token path: String, publicKey: String) throws {
        let token = try String(contentsOfFile: path, encoding: .utf8)
        let key = try P256PublicKey(pemRepresentation: try String(contentsOfFile: publicKey, encoding: .utf8))
        let claims = try AttestationToken.claims(
            of: try CompactJWS(parsing: token.trimmingCharacters(in: .whitespacesAndNewlines)), key: key)
        guard let nonce = Base64URL.decode(claims.nonce), let quote = claims.submods.tpm else {
            throw AttestationError("the report has no nonce or quote")
        }
        var measurements: [Int: [UInt8]] = [:]
        for (index, value) in quote.values {
            guard let index = Int(index), let value = Hex.decode(value) else { throw AttestationError("a bad PCR") }
            measurements[index] = value
        }
        let expectations = ReportExpectations(nonce: nonce, measurements: measurements, maximumAge: 3600)
        var times: [Double] = []
        for _ in 0..<200 {
            let started = ContinuousClock.now
            let verdict = ReportVerifier.verify(token, key: key, expectations: expectations, now: claims.issuedAt)
            times.append(milliseconds(since: started))
            guard verdict.trusted else { throw AttestationError("the benchmark's report is not trusted: \(verdict)") }
        }
        times.sort()
        let p50 = times[times.count / 2]
        print(String(format: "attest-verify: p50 %.3f ms over %d runs", p50, times.count))
        print(String(format: "RESULT attest-verify-p50 ms=%.3f max=10", p50))
    }
}
