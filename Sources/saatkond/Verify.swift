import ArgumentParser
import Attestation
import DevelopmentIdentity
import DurableFiles
import Foundation
import HashChain
import Receipts
import ReplicationProtocol
import SystemPackage

/// `saatkond verify`: checks a receipt written by `saatkond send --receipt`, or an attestation report, offline,
/// with the appliance's public signing key alone: a receipt optionally against a stream, a length, a head or the
/// bytes of a local file; a report against home's nonce, the expected measurements, its age, the redundancy margin
/// and the streams home holds receipts for.
struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a signed receipt or an attestation report with the appliance's public key alone.",
        discussion: """
            A receipt: exits 0 and prints one line (stream, length, head, time, appliance) when the signature holds \
            and the receipt covers what the options expect. A report (a JWT, as the attestation port answers): \
            exits 0 and prints "trusted: …" when its signature, nonce, TPM quote, measurements, age, margin and \
            streams are as expected. Otherwise exits 1 and says what failed.
            """)

    @Argument(help: "The receipt or report file.")
    var receipt: String

    @Option(help: "A report: the nonce home sent for it, in hexadecimal (required for a report).")
    var nonce: String?

    @Option(
        name: .customLong("pcr"),
        help: "A report: an expected measurement, INDEX=HEX (SHA-256 bank); repeat for each PCR home expects.")
    var pcrs: [String] = []

    @Flag(
        help: """
            A report: expect no measurements (the quote is still checked, but any software passes); without it at \
            least one --pcr is required.
            """)
    var noMeasurements = false

    @Option(help: "A report: the oldest accepted, in seconds.")
    var maxAge: Int64 = 300

    @Option(help: "A report: the least redundancy margin accepted (disks the array can still lose).")
    var minMargin: Int?

    @Option(
        name: .customLong("expect-receipt"),
        help: "A report: a receipt (verified with the same key) whose stream the report must hold, at least as long.")
    var expectedReceipts: [String] = []

    @Option(
        name: .customLong("audit"),
        help: "A report: an excerpt of the custody log (GET /audit), which must end at the report's audit head.")
    var auditExcerpt: String?

    @Option(
        help: """
            The appliance's receipt-signing public key: an ECDSA P-256 public key in PEM (-----BEGIN PUBLIC KEY-----, \
            as openssl pkey -pubout writes it). By default the development appliance's, \
            keys/signing.pem in its state directory.
            """)
    var publicKey: String?

    @Option(help: "The state directory of a development appliance, whose public key is used by default.")
    var state: String?

    @Option(help: "The stream the receipt must name.")
    var stream: String?

    @Option(help: "The durable length, in bytes, the receipt must state.")
    var length: UInt64?

    @Option(help: "The hash-chain head the receipt must state (64 hexadecimal digits).")
    var head: String?

    @Option(
        help: """
            A local copy of the stream: the receipt must state its length and hash-chain head, that is, the \
            appliance holds exactly these bytes.
            """)
    var file: String?

    func validate() throws {
        if let head, ChainHead(hex: head.lowercased()) == nil {
            throw ValidationError("--head must be 64 hexadecimal digits, as a receipt's head line has them")
        }
    }

    func run() throws {
        let keyPath = try self.keyPath()
        if let report = try Self.readReport(receipt) {
            try verifyReport(report, keyPath: keyPath)
            return
        }
        do {
            let key = try ReceiptVerifier.publicKey(at: keyPath)
            let signed = try ReceiptVerifier.verify(receiptAt: FilePath(receipt), publicKey: key)
            // The file is hashed only for a receipt that holds: it may be large.
            let copy = try file.map { try ReceiptExpectation.LocalCopy(hashing: FilePath($0)) }
            try ReceiptExpectation(
                stream: stream, length: length, head: head.flatMap { ChainHead(hex: $0.lowercased()) }, copy: copy
            ).check(signed)
            print(Self.summary(of: signed, copy: copy))
        } catch {
            throw CommandFailure("saatkond verify: \(error)")
        }
    }

    private func keyPath() throws -> FilePath {
        let keyPath: FilePath
        if let publicKey {
            keyPath = FilePath(publicKey)
        } else {
            keyPath = StateDirectory(option: state).receiptSigningPublicKey
            guard FileManager.default.fileExists(atPath: keyPath.string) else {
                throw CommandFailure(
                    "saatkond verify: no public key in \(keyPath); give the appliance's receipt-signing public key "
                        + "with --public-key FILE (or --state DIR of the development appliance that signed)")
            }
        }
        return keyPath
    }

    /// One line: what the appliance promised, and what the verifier checked it against.
    static func summary(of receipt: Receipt, copy: ReceiptExpectation.LocalCopy?) -> String {
        let time = Date(timeIntervalSince1970: TimeInterval(receipt.millisecondsSince1970) / 1000)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return "valid receipt: stream \(receipt.stream), length \(receipt.durableLength), head \(receipt.head), "
            + "time \(formatter.string(from: time)), appliance \(receipt.appliance)"
            + (copy.map { ", matches \($0.path)" } ?? "")
    }
}

extension Verify {
    /// The file's text when it is a report (a compact JWS: three base64url parts), nil when it is something else (a
    /// receipt's text form has lines).
    static func readReport(_ path: String) throws -> String? {
        // Never more than a report's largest size: a receipt is short too, and anything longer is neither.
        let data: Data
        do {
            let file = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            defer { try? file.close() }
            data = try file.read(upToCount: CompactJWS.maximumByteCount + 1) ?? Data()
        } catch {
            throw CommandFailure("saatkond verify: cannot read \(path): \(error)")
        }
        guard data.count <= CompactJWS.maximumByteCount else { return nil }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 3 && parts.allSatisfy { !$0.isEmpty && Base64URL.decode($0) != nil } ? text : nil
    }

    func verifyReport(_ report: String, keyPath: FilePath) throws {
        guard let nonceHex = nonce, let nonce = Hex.decode(nonceHex.lowercased()), !nonce.isEmpty else {
            throw CommandFailure("saatkond verify: a report is checked against the nonce home sent: give --nonce HEX")
        }
        var measurements: [Int: [UInt8]] = [:]
        for pcr in pcrs {
            let parts = pcr.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, let index = Int(parts[0]), (0...23).contains(index),
                let value = Hex.decode(parts[1].lowercased()), value.count == 32
            else {
                throw CommandFailure("saatkond verify: --pcr must be INDEX=64 hexadecimal digits, found '\(pcr)'")
            }
            measurements[index] = value
        }
        guard !measurements.isEmpty || noMeasurements else {
            throw CommandFailure(
                "saatkond verify: a report is checked against the measurements home expects: give --pcr INDEX=HEX "
                    + "(or --no-measurements, and any software passes)")
        }
        do {
            let key = try ReceiptVerifier.publicKey(at: keyPath)
            var streams: [String: ReportExpectations.StreamExpectation] = [:]
            for path in expectedReceipts {
                let receipt = try ReceiptVerifier.verify(receiptAt: FilePath(path), publicKey: key)
                // The longest receipt of a stream says the most; its head is checked when the report's length is it.
                if (streams[receipt.stream]?.length ?? 0) <= receipt.durableLength {
                    streams[receipt.stream] = .init(length: receipt.durableLength, head: receipt.head.description)
                }
            }
            let excerpt = try auditExcerpt.map { path in
                guard try FileSystemCalls.size(at: FilePath(path)) <= 64 << 20 else {
                    throw CommandFailure("saatkond verify: \(path) is larger than 64 MiB; give a shorter excerpt")
                }
                return try FileSystemCalls.readAll(FilePath(path))
            }
            let verdict = ReportVerifier.verify(
                report, key: key,
                expectations: ReportExpectations(
                    nonce: nonce, measurements: measurements, maximumAge: maxAge, minimumMargin: minMargin,
                    streams: streams, auditExcerpt: excerpt),
                now: Int64(Date().timeIntervalSince1970))
            guard verdict.trusted else { throw CommandFailure("saatkond verify: \(verdict)") }
            print(verdict)
        } catch let failure as CommandFailure {
            throw failure
        } catch {
            throw CommandFailure("saatkond verify: \(error)")
        }
    }
}
