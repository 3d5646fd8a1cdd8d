import CryptoPrimitives

extension EscrowBundle {
    /// Combines officials' shares back into the storage private key and the journal key.
    ///
    /// Every share must have been opened from this bundle, by a different official; at least `threshold` are
    /// needed and all given are used. The result is checked twice before it is returned: the private key must
    /// derive the bundle's storage public key, and the whole secret must match the bundle's secret check, so a
    /// damaged share gives an error, never a wrong key.
    ///
    /// - Throws: `EscrowError.shareNotForBundle` for a share of another bundle or appliance, or whose x is not
    ///   its official's; `EscrowError.notEnoughShares`; `EscrowError.wrongShares` when the shares do not combine
    ///   into this appliance's secret.
    public func recover(shares: [EscrowShare]) throws -> (storagePrivateKey: X25519PrivateKey, journalKey: SecretBytes)
    {
        var officialsUsed = Set<String>()
        for share in shares {
            guard share.bundleIdentifier == identifier, share.appliance == appliance else {
                throw EscrowError.shareNotForBundle(
                    "the share of '\(share.official)' was opened from another bundle (of appliance "
                        + "'\(share.appliance)', bundle \(Hex.encode(share.bundleIdentifier))), not from this one "
                        + "(appliance '\(appliance)', bundle \(Hex.encode(identifier)))")
            }
            guard let official = officials.first(where: { $0.name == share.official }) else {
                throw EscrowError.shareNotForBundle("'\(share.official)' is not an official of this bundle")
            }
            guard official.x == share.share.x else {
                throw EscrowError.shareNotForBundle(
                    "the share of '\(share.official)' says x = \(share.share.x), the bundle gives them "
                        + "x = \(official.x)")
            }
            guard officialsUsed.insert(share.official).inserted else {
                throw EscrowError.shareNotForBundle("the share of '\(share.official)' is given twice")
            }
        }
        guard shares.count >= threshold else {
            throw EscrowError.notEnoughShares(have: shares.count, need: threshold)
        }
        let secret: SecretBytes
        do {
            secret = try Shamir.combine(shares.map(\.share))
        } catch {
            throw EscrowError.wrongShares()
        }
        guard secret.count == Self.secretByteCount else { throw EscrowError.wrongShares() }
        let storagePrivateKey = try Self.storageKey(of: secret)
        guard storagePrivateKey.publicKey == storagePublicKey,
            Self.secretCheck(of: secret, identifier: identifier) == secretCheck
        else {
            throw EscrowError.wrongShares()
        }
        let journalKey = SecretBytes(count: Self.keyByteCount) { key in
            secret.withUnsafeBytes { key.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[Self.keyByteCount...])) }
        }
        return (storagePrivateKey, journalKey)
    }
}
