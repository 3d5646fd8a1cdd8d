import CryptoPrimitives

/// What the HPKE encryption of each share is bound to, as exact bytes. Strings and lists carry their lengths, so
/// two different headers never give the same bytes.
extension EscrowBundle {
    /// The label at the start of every bound string; a new format version gets a new label.
    static let label = Array("saatkond escrow v1".utf8)

    /// Everything in a bundle but the sealed shares.
    struct Header {
        var identifier: [UInt8]
        var appliance: String
        var created: String
        var threshold: Int
        var storagePublicKey: X25519PublicKey
        var secretCheck: [UInt8]
        var roster: [(name: String, publicKey: X25519PublicKey, x: UInt8)]

        /// The additional data of every share: the whole header, the other officials and their x included, so
        /// that no field can be changed, and no share taken into another bundle, without every share failing.
        func additionalData() -> [UInt8] {
            var bytes = EscrowBundle.label + [0]
            bytes.append(UInt8(EscrowBundle.formatVersion))
            bytes += identifier
            EscrowBundle.appendString(appliance, to: &bytes)
            EscrowBundle.appendString(created, to: &bytes)
            bytes.append(UInt8(threshold))
            bytes += storagePublicKey.rawRepresentation
            bytes += secretCheck
            bytes.append(UInt8(roster.count))
            for official in roster {
                EscrowBundle.appendString(official.name, to: &bytes)
                bytes += official.publicKey.rawRepresentation
                bytes.append(official.x)
            }
            return bytes
        }
    }

    /// HPKE's `info` for one share: the format, the appliance, the official and the x, so that a share sealed for
    /// one official opens for no other, even under the same key.
    static func info(appliance: String, official: String, x: UInt8) -> [UInt8] {
        var bytes = label + [0]
        appendString(appliance, to: &bytes)
        appendString(official, to: &bytes)
        bytes.append(x)
        return bytes
    }

    /// SHA-256(label, 0x00, "secret", identifier, secret): hashed straight from locked memory.
    static func secretCheck(of secret: SecretBytes, identifier: [UInt8]) -> [UInt8] {
        let hasher = SHA256Hasher()
        hasher.update(label + [0] + Array("secret".utf8) + identifier)
        secret.withUnsafeBytes { hasher.update($0) }
        return hasher.finalize()
    }

    private static func appendString(_ string: String, to bytes: inout [UInt8]) {
        let utf8 = Array(string.utf8)
        bytes += [UInt8(utf8.count >> 8), UInt8(utf8.count & 0xFF)]
        bytes += utf8
    }
}
