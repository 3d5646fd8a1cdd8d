import CryptoPrimitives
import CustodyLog
import HashChain
import TPM2

/// What home expects of a report beyond a valid signature: its own nonce, the measurements of the software it put
/// there, freshness, redundancy, and streams it holds receipts for.
public struct ReportExpectations: Sendable {
    /// The nonce home sent.
    public var nonce: [UInt8]
    /// The expected PCR values (SHA-256 bank) by index; each must be quoted and equal.
    public var measurements: [Int: [UInt8]]
    /// The oldest report accepted, in seconds.
    public var maximumAge: Int64
    /// How far in the future a report's time may be (the clocks of home and the appliance differ a little).
    public var clockSkew: Int64
    /// The least redundancy margin accepted; nil accepts any.
    public var minimumMargin: Int?
    /// Streams the appliance must hold: at least this length, and this head when the length is equal.
    public var streams: [String: StreamExpectation]
    /// An excerpt of the custody log (whole lines, as `GET /audit` answers) that must end at the report's audit head.
    public var auditExcerpt: [UInt8]?

    public struct StreamExpectation: Sendable, Hashable {
        public var length: UInt64
        public var head: String?

        public init(length: UInt64, head: String? = nil) {
            self.length = length
            self.head = head
        }
    }

    public init(
        nonce: [UInt8], measurements: [Int: [UInt8]], maximumAge: Int64 = 300, clockSkew: Int64 = 60,
        minimumMargin: Int? = nil, streams: [String: StreamExpectation] = [:], auditExcerpt: [UInt8]? = nil
    ) {
        self.auditExcerpt = auditExcerpt
        self.nonce = nonce
        self.measurements = measurements
        self.maximumAge = maximumAge
        self.clockSkew = clockSkew
        self.minimumMargin = minimumMargin
        self.streams = streams
    }
}

/// Home's verdict on a report: trusted or not, and why, in one line.
public struct ReportVerdict: Sendable, CustomStringConvertible {
    public var trusted: Bool
    public var reason: String
    /// The claims, once the signature verified.
    public var claims: AttestationClaims?

    public var description: String { (trusted ? "trusted: " : "not trusted: ") + reason }
}

/// Checks an attestation report offline (`saatkond verify REPORT`), with nothing but the appliance's attestation
/// key and home's expectations: the signature, the nonce, the TPM quote (signed by the same key, over the quoted
/// PCRs, with the nonce), the measurements, freshness, redundancy and streams. The first failure is the verdict.
public enum ReportVerifier {
    public static func verify(
        _ text: String, key: P256PublicKey, expectations: ReportExpectations, now: Int64
    ) -> ReportVerdict {
        var claims: AttestationClaims?
        do {
            let token = try CompactJWS(parsing: text.trimmingWhitespace)
            let verified = try AttestationToken.claims(of: token, key: key)
            claims = verified
            try check(verified, expectations: expectations, key: key, now: now)
            return ReportVerdict(trusted: true, reason: summary(verified, expectations), claims: verified)
        } catch {
            return ReportVerdict(trusted: false, reason: error.description, claims: claims)
        }
    }

    static func check(
        _ claims: AttestationClaims, expectations: ReportExpectations, key: P256PublicKey, now: Int64
    ) throws(AttestationError) {
        guard Base64URL.decode(claims.nonce) == expectations.nonce else {
            throw AttestationError("the nonce is not the one sent (a replayed or another verifier's report)")
        }
        guard claims.issuedAt >= 0, claims.issuedAt <= now + expectations.clockSkew else {
            throw AttestationError("the report is dated \(claims.issuedAt), not now (\(now))")
        }
        let age = now - claims.issuedAt
        guard age <= expectations.maximumAge else {
            throw AttestationError("the report is \(age) s old; at most \(expectations.maximumAge) s is accepted")
        }
        guard let quote = claims.submods.tpm else {
            throw AttestationError("the report carries no TPM quote")
        }
        try checkQuote(quote, nonce: expectations.nonce, bootCount: claims.bootCount, key: key)
        for (index, expected) in expectations.measurements.sorted(by: { $0.key < $1.key }) {
            guard let value = quote.values["\(index)"] else {
                throw AttestationError("PCR \(index) is not in the quote (\(quote.pcrs))")
            }
            guard Hex.decode(value) == expected else {
                throw AttestationError("PCR \(index) is \(value), not the expected \(Hex.encode(expected))")
            }
        }
        if let minimum = expectations.minimumMargin {
            guard let array = claims.submods.array else {
                throw AttestationError("the report says nothing of the array's redundancy")
            }
            guard array.margin >= minimum else {
                throw AttestationError(
                    "the array (\(array.dataShards) + \(array.parityShards)) can lose \(array.margin) more disks; "
                        + "at least \(minimum) expected")
            }
        }
        for (name, expected) in expectations.streams.sorted(by: { $0.key < $1.key }) {
            guard let stream = claims.submods.streams?[name] else {
                throw AttestationError("stream \(name) is not in the report")
            }
            guard stream.length >= expected.length else {
                throw AttestationError("stream \(name) holds \(stream.length) bytes; \(expected.length) expected")
            }
            if let head = expected.head, stream.length == expected.length, stream.head != head {
                throw AttestationError("stream \(name) has head \(stream.head) at \(stream.length), not \(head)")
            }
        }
        if let excerpt = expectations.auditExcerpt {
            try checkAudit(excerpt, claims.submods.audit)
        }
    }

    /// The excerpt must be whole records of the custody log, chained, whose last is the head the report signed (so
    /// an altered line, a removed one or a cut end shows).
    static func checkAudit(_ excerpt: [UInt8], _ audit: AttestationClaims.AuditClaims?) throws(AttestationError) {
        guard let audit else { throw AttestationError("the report carries no audit head to check the excerpt against") }
        let records: [CustodyRecord]
        do {
            records = try CustodyLog.verify(excerpt: excerpt, endingAt: audit.head)
        } catch {
            throw AttestationError("the audit excerpt is not the log the report signed: \(error)")
        }
        guard let last = records.last, last.seq == UInt64(max(audit.records, 0)) else {
            throw AttestationError(
                "the audit excerpt ends at record \(records.last?.seq ?? 0), not the report's \(audit.records)")
        }
    }

    /// The quote must be the TPM's (signed by the attestation key, which only ever signs what the TPM hashed or
    /// attested), over the PCRs and values the report names, with the verifier's nonce, in this boot.
    static func checkQuote(
        _ quote: AttestationClaims.TPMQuoteClaims, nonce: [UInt8], bootCount: Int64?, key: P256PublicKey
    ) throws(AttestationError) {
        guard let attest = Base64URL.decode(quote.attest), let signature = Base64URL.decode(quote.signature) else {
            throw AttestationError("the quote is not base64url")
        }
        guard signature.count == 64, key.isValidSignature(signature, for: attest) else {
            throw AttestationError("the quote is not signed by the attestation key (another TPM's quote?)")
        }
        let parsed: QuoteAttestation
        do {
            parsed = try QuoteAttestation.parse(attest)
        } catch {
            throw AttestationError("the quote does not parse: \(error)")
        }
        guard parsed.qualifyingData == nonce else {
            throw AttestationError("the quote was made for another nonce")
        }
        guard let pcrs = PCRSelection(parsing: quote.pcrs), parsed.pcrSelection == [pcrs] else {
            throw AttestationError("the quote covers \(parsed.pcrSelection), not the report's \(quote.pcrs)")
        }
        var quoted: [UInt8] = []
        for index in pcrs.indices {
            guard let value = quote.values["\(index)"].flatMap(Hex.decode), value.count == pcrs.bank.digestSize else {
                throw AttestationError("the report gives no value for the quoted PCR \(index)")
            }
            quoted += value
        }
        guard quote.values.count == pcrs.indices.count else {
            throw AttestationError("the report gives values for PCRs the quote does not cover")
        }
        guard SHA256.hash(quoted) == parsed.pcrDigest else {
            throw AttestationError("the PCR values in the report are not the ones the TPM quoted")
        }
        if let bootCount, bootCount != Int64(parsed.resetCount) {
            throw AttestationError("the report's boot count \(bootCount) is not the TPM's \(parsed.resetCount)")
        }
    }

    static func summary(_ claims: AttestationClaims, _ expectations: ReportExpectations) -> String {
        var parts = ["\(claims.appliance)", "keys \(claims.submods.keys.state)"]
        if let quote = claims.submods.tpm {
            parts.append(
                expectations.measurements.isEmpty
                    ? "quote over \(quote.pcrs) (no measurements expected)"
                    : "measurements as expected (\(quote.pcrs))")
        }
        if let bootCount = claims.bootCount { parts.append("boot \(bootCount)") }
        if let array = claims.submods.array { parts.append("margin \(array.margin)") }
        if !expectations.streams.isEmpty { parts.append("expected streams held (\(expectations.streams.count))") }
        if let audit = claims.submods.audit {
            parts.append(
                expectations.auditExcerpt == nil
                    ? "audit head \(audit.records)"
                    : "audit excerpt ends at the head (record \(audit.records))")
        }
        return parts.joined(separator: ", ")
    }
}

extension String {
    fileprivate var trimmingWhitespace: String {
        var text = Substring(self)
        while let last = text.last, last.isWhitespace { text.removeLast() }
        while let first = text.first, first.isWhitespace { text.removeFirst() }
        return String(text)
    }
}
