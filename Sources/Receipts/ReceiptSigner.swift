import CryptoPrimitives
import Foundation
import HashChain
import ReplicationProtocol
import StreamStore

/// Signs receipts with the appliance's signing key (Ed25519), and checks them with its public key alone.
public struct ReceiptSigner: Sendable {
    private let key: Ed25519PrivateKey
    /// The name the receipts give the appliance.
    public let appliance: String

    /// A signer with `key`, naming the appliance `appliance`.
    public init(key: Ed25519PrivateKey, appliance: String) {
        self.key = key
        self.appliance = appliance
    }

    /// The public key a verifier needs.
    public var publicKey: [UInt8] { key.publicKey.rawRepresentation }

    package func sign(stream: StreamName, durableLength: UInt64, head: ChainHead) throws -> Receipt {
        var receipt = Receipt(
            stream: stream.rawValue, durableLength: durableLength, head: head,
            millisecondsSince1970: UInt64(Date().timeIntervalSince1970 * 1000), appliance: appliance, signature: [])
        receipt.signature = try key.signature(for: receipt.signedContent)
        return receipt
    }

    /// Whether `receipt` was signed by the holder of the private key of `publicKey`.
    public static func verify(_ receipt: Receipt, publicKey: [UInt8]) -> Bool {
        guard let key = try? Ed25519PublicKey(rawRepresentation: publicKey) else { return false }
        return key.isValidSignature(receipt.signature, for: receipt.signedContent)
    }
}
