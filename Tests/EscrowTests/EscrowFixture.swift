import CryptoPrimitives
import Foundation
import TestSupport

@testable import Escrow

/// A provisioning as the keys service would do it: a storage key pair, a journal key, officials' key pairs, and
/// the bundle that escrows the two keys to them.
struct EscrowFixture {
    let storageKey: X25519PrivateKey
    let journalKey: SecretBytes
    let officials: [(name: String, key: X25519PrivateKey)]
    let bundle: EscrowBundle

    init(
        threshold: Int = 3, names: [String] = ["Mari Tamm", "Jaan Kask", "Liis Mägi", "Peeter Saar", "Kadri Org"]
    )
        throws
    {
        storageKey = try X25519PrivateKey()
        journalKey = try CryptoRandom.secretBytes(count: 32)
        officials = try names.map { ($0, try X25519PrivateKey()) }
        bundle = try EscrowBundle.make(
            secret: Self.secret(storageKey, journalKey), threshold: threshold,
            officials: officials.map { ($0.name, $0.key.publicKey) }, appliance: "tallinn-1",
            storagePublicKey: storageKey.publicKey, created: Date(timeIntervalSince1970: 1_767_225_600))
    }

    static func secret(_ storageKey: X25519PrivateKey, _ journalKey: SecretBytes) -> SecretBytes {
        SecretBytes(storageKey.rawRepresentation.bytes + journalKey.bytes)
    }

    func share(_ index: Int, of bundle: EscrowBundle? = nil) throws -> EscrowShare {
        try (bundle ?? self.bundle).openShare(official: officials[index].name, privateKey: officials[index].key)
    }
}
