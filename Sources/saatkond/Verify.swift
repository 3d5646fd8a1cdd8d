import ArgumentParser
import DevelopmentIdentity
import Foundation
import HashChain
import Receipts
import ReplicationProtocol
import SystemPackage

/// `saatkond verify`: checks a receipt written by `saatkond send --receipt`, offline, with the appliance's public
/// signing key alone, and optionally that it covers a stream, a length, a head or the bytes of a local file.
struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a signed receipt from `saatkond send --receipt` with the appliance's public key alone.",
        discussion: """
            Exits 0 and prints one line (stream, length, head, time, appliance) when the signature holds and the \
            receipt covers what the options expect; otherwise exits 1 and says what failed.
            """)

    @Argument(help: "The receipt file.")
    var receipt: String

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
