import CryptoPrimitives
import Foundation
import TestSupport
import Testing

@testable import Escrow

@Suite struct EscrowBundleTests {
    @Test func everyThresholdOfOfficialsRecoversBothKeys() throws {
        let fixture = try EscrowFixture()
        let shares = try (0..<5).map { try fixture.share($0) }
        for subset in ShamirTests.subsets(of: shares, size: 3) + [shares] {
            let recovered = try fixture.bundle.recover(shares: subset)
            #expect(recovered.storagePrivateKey.rawRepresentation.bytes == fixture.storageKey.rawRepresentation.bytes)
            #expect(recovered.journalKey.bytes == fixture.journalKey.bytes)
        }
    }

    @Test func theFileAndTheShareFilesRoundTrip() throws {
        let fixture = try EscrowFixture()
        let parsed = try EscrowBundle(parsing: fixture.bundle.serialized())
        #expect(parsed == fixture.bundle)
        let shares = try (1..<4).map { index in
            try fixture.share(index, of: parsed).serialized().withUnsafeBytes { try EscrowShare(parsing: $0) }
        }
        #expect(shares.map(\.official) == ["Jaan Kask", "Liis Mägi", "Peeter Saar"])
        #expect(try parsed.recover(shares: shares).journalKey.bytes == fixture.journalKey.bytes)
    }

    @Test func tooFewSharesAreRefused() throws {
        let fixture = try EscrowFixture()
        #expect(throws: EscrowError.notEnoughShares(have: 0, need: 0)) {
            try fixture.bundle.recover(shares: [try fixture.share(0), try fixture.share(4)])
        }
        #expect(throws: EscrowError.shareNotForBundle("")) {
            try fixture.bundle.recover(shares: [try fixture.share(0), try fixture.share(0), try fixture.share(1)])
        }
    }

    @Test func onlyTheOfficialsKeyOpensTheirShare() throws {
        let fixture = try EscrowFixture()
        #expect(throws: EscrowError.cannotOpenShare("")) {
            try fixture.bundle.openShare(official: "Mari Tamm", privateKey: fixture.officials[1].key)
        }
        #expect(throws: EscrowError.cannotOpenShare("")) {
            try fixture.bundle.openShare(official: "Mari Tamm", privateKey: try X25519PrivateKey())
        }
        #expect(throws: EscrowError.unknownOfficial("", known: [])) {
            try fixture.bundle.openShare(official: "Nobody", privateKey: fixture.officials[0].key)
        }
    }

    /// Swapping two officials' sealed shares and keys in the file (so that the key check passes) still fails: the
    /// official's name and x are bound into HPKE's info.
    @Test func aShareCannotBeMovedToAnotherOfficial() throws {
        let fixture = try EscrowFixture()
        var document = try JSONSerialization.jsonObject(with: Data(fixture.bundle.serialized())) as! [String: Any]
        var officials = document["officials"] as! [[String: Any]]
        for field in ["publicKey", "encapsulatedKey", "ciphertext"] {
            (officials[0][field], officials[1][field]) = (officials[1][field], officials[0][field])
        }
        document["officials"] = officials
        let moved = try EscrowBundle(parsing: Array(try JSONSerialization.data(withJSONObject: document)))
        #expect(throws: EscrowError.cannotOpenShare("")) {
            try moved.openShare(official: "Mari Tamm", privateKey: fixture.officials[1].key)
        }
    }

    /// The same officials, the same appliance and the same keys in a second bundle: a share of the first is
    /// refused by name, and one relabelled as the second's does not open or combine into a wrong key.
    @Test func aShareCannotBeMovedToAnotherBundle() throws {
        let fixture = try EscrowFixture()
        let second = try EscrowBundle.make(
            secret: EscrowFixture.secret(fixture.storageKey, fixture.journalKey), threshold: 3,
            officials: fixture.officials.map { ($0.name, $0.key.publicKey) }, appliance: "tallinn-1",
            storagePublicKey: fixture.storageKey.publicKey)
        let mixed = [try fixture.share(0), try fixture.share(1, of: second), try fixture.share(2, of: second)]
        #expect(throws: EscrowError.shareNotForBundle("")) { try second.recover(shares: mixed) }

        let relabelled = EscrowShare(
            bundleIdentifier: second.identifier, appliance: "tallinn-1", official: "Mari Tamm",
            share: mixed[0].share)
        #expect(throws: EscrowError.wrongShares()) {
            try second.recover(shares: [relabelled, mixed[1], mixed[2]])
        }
        // The first bundle's header fields in the second's sealed shares: the additional data differs.
        var document = try JSONSerialization.jsonObject(with: Data(second.serialized())) as! [String: Any]
        document["identifier"] = Hex.encode(fixture.bundle.identifier)
        let grafted = try EscrowBundle(parsing: Array(try JSONSerialization.data(withJSONObject: document)))
        #expect(throws: EscrowError.cannotOpenShare("")) { try fixture.share(0, of: grafted) }
    }

    /// A share altered in the storage key half, or only in the journal key half, is caught.
    @Test(arguments: [0, 31, 32, 63]) func anAlteredShareGivesAnErrorNotAKey(byte: Int) throws {
        let fixture = try EscrowFixture()
        let genuine = try fixture.share(2)
        var value = genuine.share.value.bytes
        value[byte] ^= 0x01
        let altered = EscrowShare(
            bundleIdentifier: genuine.bundleIdentifier, appliance: genuine.appliance, official: genuine.official,
            share: ShamirShare(x: genuine.share.x, value: SecretBytes(value)))
        #expect(throws: EscrowError.wrongShares()) {
            try fixture.bundle.recover(shares: [try fixture.share(0), try fixture.share(1), altered])
        }
    }

    @Test func makeRefusesMistakes() throws {
        let fixture = try EscrowFixture()
        let secret = EscrowFixture.secret(fixture.storageKey, fixture.journalKey)
        let keys = fixture.officials.map { ($0.name, $0.key.publicKey) }
        let other = try X25519PrivateKey().publicKey
        let mistakes: [(SecretBytes, Int, [(name: String, publicKey: X25519PublicKey)], String, X25519PublicKey)] = [
            (fixture.journalKey, 3, keys, "a", fixture.storageKey.publicKey),
            (secret, 3, keys, "a", other),
            (secret, 1, keys, "a", fixture.storageKey.publicKey),
            (secret, 6, keys, "a", fixture.storageKey.publicKey),
            (secret, 2, [keys[0], keys[0]], "a", fixture.storageKey.publicKey),
            (secret, 2, [keys[0], ("B", keys[0].1)], "a", fixture.storageKey.publicKey),
            (secret, 2, [keys[0], ("line\nbreak", other)], "a", fixture.storageKey.publicKey),
            (secret, 2, keys, "", fixture.storageKey.publicKey),
        ]
        for (secret, threshold, officials, appliance, publicKey) in mistakes {
            #expect(throws: EscrowError.invalidArgument("")) {
                try EscrowBundle.make(
                    secret: secret, threshold: threshold, officials: officials, appliance: appliance,
                    storagePublicKey: publicKey)
            }
        }
    }
}
