import CryptoPrimitives
import Foundation
import HPKE

/// The storage secret of one appliance, split m-of-n among home officials and each share sealed to one official's
/// X25519 key with HPKE (RFC 9180, base mode): what the appliance writes for home at provisioning.
///
/// The secret is 64 bytes, the storage private key followed by the journal key. The bundle itself is not secret:
/// each share opens only with its official's private key, and fewer than `threshold` shares say nothing about the
/// secret. A share's HPKE `info` binds it to its appliance, official and x, and its additional data to the whole
/// header (see `EscrowBundle+Binding.swift`), so a share moved to another official or bundle does not open.
public struct EscrowBundle: Sendable, Equatable {
    /// The version of the file format this code writes and reads.
    public static let formatVersion = 1

    /// The length of the escrowed secret: the X25519 storage private key, then the journal key.
    public static let secretByteCount = 64

    /// The length of each of the two keys in the secret.
    public static let keyByteCount = 32

    /// The length of a bundle's random identifier.
    public static let identifierByteCount = 16

    /// One official's entry: who, at which x, and their share sealed to their public key.
    public struct Official: Sendable, Equatable {
        /// The official's name, as the share file and the recovery report it.
        public let name: String
        /// The official's X25519 public key, the one the share is sealed to.
        public let publicKey: X25519PublicKey
        /// The x of the official's Shamir share.
        public let x: UInt8
        /// HPKE's encapsulated key (enc) for this share.
        public let encapsulatedKey: [UInt8]
        /// The sealed share bytes followed by the AES-GCM tag.
        public let ciphertext: [UInt8]
    }

    /// Random, so that a share file names the one bundle it was opened from.
    public let identifier: [UInt8]
    /// The appliance whose secret this is.
    public let appliance: String
    /// When the bundle was made, in whole seconds, as written in the file (ISO 8601, UTC).
    public let created: String
    /// How many shares recover the secret.
    public let threshold: Int
    /// The public half of the escrowed storage key: recovery checks that the recovered private key derives it.
    public let storagePublicKey: X25519PublicKey
    /// SHA-256 over a label, the identifier and the whole secret, so that a damaged share is caught in the journal
    /// key half too, which no public key vouches for.
    public let secretCheck: [UInt8]
    /// The officials, in the order of their x.
    public let officials: [Official]

    /// Splits `secret` among `officials`, `threshold` of whom recover it, and seals each share to its official.
    ///
    /// - Parameters:
    ///   - secret: 64 bytes, the storage private key and then the journal key.
    ///   - storagePublicKey: the storage key's public half; it must be the one the secret's first half derives.
    ///   - created: the time to record; whole seconds are kept.
    /// - Throws: `EscrowError.invalidArgument` for a secret of the wrong length or not matching
    ///   `storagePublicKey`, an impossible threshold, names that are empty, repeated or unprintable, or a public
    ///   key given twice (one person would hold two shares); `HPKEError` for a public key of low order.
    public static func make(
        secret: SecretBytes, threshold: Int, officials: [(name: String, publicKey: X25519PublicKey)],
        appliance: String, storagePublicKey: X25519PublicKey, created: Date = Date()
    ) throws -> EscrowBundle {
        guard secret.count == secretByteCount else {
            throw EscrowError.invalidArgument(
                "the escrowed secret must be \(secretByteCount) bytes, not \(secret.count)")
        }
        guard try storageKey(of: secret).publicKey == storagePublicKey else {
            throw EscrowError.invalidArgument("the secret's storage private key does not derive the storage public key")
        }
        try checkName(appliance, "appliance")
        for official in officials { try checkName(official.name, "official") }
        guard Set(officials.map(\.name)).count == officials.count else {
            throw EscrowError.invalidArgument("an official's name is given twice; each needs a name of their own")
        }
        guard Set(officials.map(\.publicKey)).count == officials.count else {
            throw EscrowError.invalidArgument("a public key is given for two officials; each needs a key of their own")
        }
        let identifier = try CryptoRandom.bytes(count: identifierByteCount)
        let shares = try Shamir.split(secret: secret, threshold: threshold, count: officials.count)
        let header = Header(
            identifier: identifier, appliance: appliance,
            created: created.formatted(.iso8601), threshold: threshold, storagePublicKey: storagePublicKey,
            secretCheck: secretCheck(of: secret, identifier: identifier),
            roster: zip(officials, shares).map { ($0.name, $0.publicKey, $1.x) })
        let additionalData = header.additionalData()
        let sealed = try zip(officials, shares).map { official, share in
            let (encapsulatedKey, ciphertext) = try HPKE.seal(
                to: official.publicKey, info: info(appliance: appliance, official: official.name, x: share.x),
                additionalData: additionalData, plaintext: share.value)
            return Official(
                name: official.name, publicKey: official.publicKey, x: share.x, encapsulatedKey: encapsulatedKey,
                ciphertext: ciphertext)
        }
        return EscrowBundle(header: header, officials: sealed)
    }

    init(header: Header, officials: [Official]) {
        identifier = header.identifier
        appliance = header.appliance
        created = header.created
        threshold = header.threshold
        storagePublicKey = header.storagePublicKey
        secretCheck = header.secretCheck
        self.officials = officials
    }

    var header: Header {
        Header(
            identifier: identifier, appliance: appliance, created: created, threshold: threshold,
            storagePublicKey: storagePublicKey, secretCheck: secretCheck,
            roster: officials.map { ($0.name, $0.publicKey, $0.x) })
    }

    /// Opens the share of official `name` with their private key, for a share file.
    ///
    /// - Throws: `EscrowError.unknownOfficial` if the bundle has no such official; `EscrowError.cannotOpenShare`
    ///   if the key is not theirs or the bundle was altered.
    public func openShare(official name: String, privateKey: X25519PrivateKey) throws -> EscrowShare {
        guard let official = officials.first(where: { $0.name == name }) else {
            throw EscrowError.unknownOfficial(name, known: officials.map(\.name))
        }
        guard privateKey.publicKey == official.publicKey else { throw EscrowError.cannotOpenShare(name) }
        let value: SecretBytes
        do {
            value = try HPKE.open(
                encapsulatedKey: official.encapsulatedKey, ciphertext: official.ciphertext, recipient: privateKey,
                info: Self.info(appliance: appliance, official: name, x: official.x),
                additionalData: header.additionalData())
        } catch {
            throw EscrowError.cannotOpenShare(name)
        }
        guard value.count == Self.secretByteCount else { throw EscrowError.cannotOpenShare(name) }
        return EscrowShare(
            bundleIdentifier: identifier, appliance: appliance, official: name,
            share: ShamirShare(x: official.x, value: value))
    }

    /// The X25519 key whose raw bytes are the secret's first half.
    static func storageKey(of secret: SecretBytes) throws -> X25519PrivateKey {
        try X25519PrivateKey(
            rawRepresentation: SecretBytes(count: keyByteCount) { key in
                secret.withUnsafeBytes { key.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[..<keyByteCount])) }
            })
    }

    static func checkName(_ name: String, _ role: String) throws {
        guard !name.isEmpty, name.utf8.count <= 128,
            name.unicodeScalars.allSatisfy({ $0.properties.generalCategory != .control }),
            name.trimmingCharacters(in: .whitespaces) == name
        else {
            throw EscrowError.invalidArgument(
                "the \(role) name '\(name)' must be 1 to 128 bytes of UTF-8, without control characters or white "
                    + "space at either end")
        }
    }
}
