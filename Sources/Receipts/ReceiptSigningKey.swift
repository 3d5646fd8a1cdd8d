import CryptoPrimitives
import Foundation
import HashChain
import ReplicationProtocol

/// A key that signs receipts: the appliance's TPM-resident key through the keys service, or a key in software.
///
/// ``sign(_:)`` may block for milliseconds (a round trip to the keys service, the TPM's own signing time), so the
/// receiver calls it on a thread pool, never on an event loop.
public protocol ReceiptSigningKey: Sendable {
    /// The identifier receipts carry, to say which key signed them (``ReceiptKeyID/of(_:)`` for a P-256 key).
    var keyID: String { get }

    /// Signs `message` with ECDSA P-256 and SHA-256; returns the signature raw, r || s (64 bytes).
    func sign(_ message: [UInt8]) throws -> [UInt8]
}

/// How receipts name a P-256 signing key.
public enum ReceiptKeyID {
    /// `p256:` and the first 16 hexadecimal digits (64 bits) of the SHA-256 of the key's uncompressed point: short
    /// enough to read out and compare by eye, long enough that no two keys of one deployment share it by chance. It
    /// only says which key to try; the signature is what proves anything.
    public static func of(_ key: P256PublicKey) -> String {
        "p256:" + Hex.encode(Array(SHA256.hash(key.uncompressedRepresentation).prefix(8)))
    }
}

/// A receipt-signing key held in software (development, tests, a key file): a ``P256PrivateKey``.
public struct SoftwareReceiptSigningKey: ReceiptSigningKey {
    private let privateKey: P256PrivateKey

    /// The public key that verifies its receipts.
    public var publicKey: P256PublicKey { privateKey.publicKey }

    /// ``ReceiptKeyID/of(_:)`` of the public key.
    public let keyID: String

    /// Signs with `privateKey`.
    public init(_ privateKey: P256PrivateKey) {
        self.privateKey = privateKey
        keyID = ReceiptKeyID.of(privateKey.publicKey)
    }

    /// Signs `message` (ECDSA P-256, SHA-256), raw r || s.
    public func sign(_ message: [UInt8]) throws -> [UInt8] {
        try privateKey.signature(for: message)
    }
}

extension Receipt {
    /// A receipt stating that `stream` is durable up to `durableLength` with `head`, made now and signed by `key`.
    /// Blocks while `key` signs: call it off any event loop.
    ///
    /// - Throws: what `key` throws, or ``ReceiptSigningError`` if its identifier or signature has the wrong form
    ///   (a receipt nobody could verify is not sent).
    public static func signed(
        stream: String, durableLength: UInt64, head: ChainHead, appliance: String, by key: any ReceiptSigningKey,
        at time: Date = Date()
    ) throws -> Receipt {
        let keyID = key.keyID
        guard isValidKeyID(keyID) else {
            throw ReceiptSigningError(
                "the signing key's identifier \(keyID.debugDescription) is not of the form a receipt carries")
        }
        var receipt = Receipt(
            stream: stream, durableLength: durableLength, head: head,
            millisecondsSince1970: UInt64(max(0, time.timeIntervalSince1970) * 1000), appliance: appliance,
            keyID: keyID, signature: [])
        let signature = try key.sign(receipt.signedContent)
        guard signature.count == signatureByteCount else {
            throw ReceiptSigningError(
                "the signing key \(keyID) returned \(signature.count) bytes, not a raw P-256 signature (r || s, 64)")
        }
        receipt.signature = signature
        return receipt
    }

    /// Whether `publicKey` signed this receipt: the receipt names that key, and the signature over
    /// ``signedContent`` verifies with it.
    public func isSigned(by publicKey: P256PublicKey) -> Bool {
        keyID == ReceiptKeyID.of(publicKey) && publicKey.isValidSignature(signature, for: signedContent)
    }
}

/// A signing key gave something that cannot go into a receipt.
public struct ReceiptSigningError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What was wrong, in a sentence.
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}
