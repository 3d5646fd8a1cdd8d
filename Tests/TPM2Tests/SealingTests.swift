import CryptoPrimitives
import TPM2
import TestSupport
import Testing

/// Sealing a secret to home's authorized policy on a real swtpm, and every way it must then fail to open.
@Suite(.enabled(if: SoftwareTPM.isInstalled, SoftwareTPM.missingMessage))
struct SealingTests {
    static let parent: UInt32 = 0x8100_0101
    static let policyRef = Array("saatkond storage key".utf8)
    static let pcrs = try! PCRSelection(bank: .sha256, indices: [0, 7, 16])

    /// One machine's provisioning: a storage parent, home's key, a policy approving the PCRs as they are now,
    /// and a secret sealed to whatever home approves.
    struct Provisioned {
        let tpm: TPMConnection
        let home: HomeKey
        let secret: [UInt8]
        let sealed: SealedObject

        init(_ swtpm: SoftwareTPM) throws {
            tpm = try TPMConnection(tcti: swtpm.tcti)
            home = try HomeKey()
            try tpm.makeStorageParent(at: SealingTests.parent)
            secret = try tpm.randomBytes(count: 32)
            let authPolicy = try PolicyDigest.authorize(
                signerName: home.publicKey.name, policyRef: SealingTests.policyRef)
            sealed = try tpm.seal(SecretBytes(secret), parent: SealingTests.parent, authPolicy: authPolicy)
            #expect(sealed.authPolicy == authPolicy)
        }

        /// Home's approval of the PCR values the TPM holds now, computed offline from a plain read.
        func approveCurrentState() throws -> AuthorizedPolicy {
            let values = try tpm.readPCRs(bank: SealingTests.pcrs.bank, indices: SealingTests.pcrs.indices)
            let approved = try PolicyDigest.pcr(selection: SealingTests.pcrs, values: values)
            return try home.approve(approved, pcrs: SealingTests.pcrs, policyRef: SealingTests.policyRef)
        }

        func unsealedBytes(_ policy: AuthorizedPolicy) throws -> [UInt8] {
            let opened = try tpm.unseal(sealed, parent: SealingTests.parent, policy: policy)
            return opened.withUnsafeBytes { Array($0) }
        }
    }

    @Test func unsealsWithAHomeSignedPolicyAndFromItsSerializedForm() throws {
        try SoftwareTPM.run { swtpm in
            let machine = try Provisioned(swtpm)
            defer { machine.home.remove() }
            let policy = try machine.approveCurrentState()
            #expect(try machine.unsealedBytes(policy) == machine.secret)
            let reread = try SealedObject(serialized: machine.sealed.serialized())
            #expect(reread == machine.sealed)
            let opened = try machine.tpm.unseal(reread, parent: Self.parent, policy: policy)
            #expect(opened.withUnsafeBytes { Array($0) } == machine.secret)
            try expectNothingLeftLoaded(machine.tpm)
        }
    }

    /// A measurement changes (PCR 16 extended): the old approval no longer matches and the error says so;
    /// home approves the new values and the same sealed object opens again, without resealing.
    @Test func aChangedPCRNeedsANewApprovalButNoResealing() throws {
        try SoftwareTPM.run { swtpm in
            let machine = try Provisioned(swtpm)
            defer { machine.home.remove() }
            let before = try machine.approveCurrentState()
            try machine.tpm.extendPCR(16, digest: [UInt8](repeating: 0x5A, count: 32))

            let error = try #require(throws: TPM2Error.self) { try machine.unsealedBytes(before) }
            #expect(error == .measurementsDiffer)
            #expect(error.description.contains("measurements differ from those this policy approves"))
            try expectNothingLeftLoaded(machine.tpm)

            let after = try machine.approveCurrentState()
            #expect(after.approvedPolicy != before.approvedPolicy)
            #expect(try machine.unsealedBytes(after) == machine.secret)
            try expectNothingLeftLoaded(machine.tpm)
        }
    }

    /// An approval whose signature does not match: altered, by another key, or for another policy reference.
    @Test func aBadSignatureIsNotAnApproval() throws {
        try SoftwareTPM.run { swtpm in
            let machine = try Provisioned(swtpm)
            defer { machine.home.remove() }
            let good = try machine.approveCurrentState()
            var flippedS = good.signature.s
            flippedS[31] ^= 1
            let altered = try AuthorizedPolicy(
                pcrs: good.pcrs, approvedPolicy: good.approvedPolicy, policyRef: good.policyRef,
                signerPublicKey: good.signerPublicKey, signature: ECDSASignature(r: good.signature.r, s: flippedS)
            )
            let otherReference = try AuthorizedPolicy(
                pcrs: good.pcrs, approvedPolicy: good.approvedPolicy, policyRef: Array("another purpose".utf8),
                signerPublicKey: good.signerPublicKey, signature: good.signature
            )
            for policy in [altered, otherReference] {
                let error = try #require(throws: TPM2Error.self) { try machine.unsealedBytes(policy) }
                #expect(error == .policyNotApproved, "\(error)")
                try expectNothingLeftLoaded(machine.tpm)
            }

            // Another key's valid approval: the signature verifies, but the object names home's key.
            let stranger = try HomeKey()
            defer { stranger.remove() }
            let foreign = try stranger.approve(good.approvedPolicy, pcrs: Self.pcrs, policyRef: Self.policyRef)
            let error = try #require(throws: TPM2Error.self) { try machine.unsealedBytes(foreign) }
            #expect(error.responseCode != nil, "\(error)")
            try expectNothingLeftLoaded(machine.tpm)
            #expect(try machine.unsealedBytes(good) == machine.secret)
        }
    }

    /// Zeroization: evicting the parent destroys what was sealed under it, also for a new connection and
    /// after a new parent is made at the same handle.
    @Test func evictingTheParentDestroysTheSealedObject() throws {
        try SoftwareTPM.run { swtpm in
            let machine = try Provisioned(swtpm)
            defer { machine.home.remove() }
            let policy = try machine.approveCurrentState()
            #expect(try machine.tpm.persistentHandleExists(Self.parent))
            try machine.tpm.evict(Self.parent)
            #expect(try !machine.tpm.persistentHandleExists(Self.parent))

            let gone = try #require(throws: TPM2Error.self) { try machine.unsealedBytes(policy) }
            #expect(gone == .noObjectAtHandle)
            #expect(gone.description.contains("can never be opened again"))
            try expectNothingLeftLoaded(machine.tpm)
            let again = try #require(throws: TPM2Error.self) { try machine.tpm.evict(Self.parent) }
            #expect(again == .noObjectAtHandle)
        }
    }

    @Test func aNewParentAtTheSameHandleCannotOpenTheOldObjectAfterAReconnect() throws {
        try SoftwareTPM.run { swtpm in
            // The first connection ends with the closure, so the second is a fresh client of the same TPM.
            let (home, sealed, policy) = try { () throws -> (HomeKey, SealedObject, AuthorizedPolicy) in
                let machine = try Provisioned(swtpm)
                let policy = try machine.approveCurrentState()
                try machine.tpm.evict(Self.parent)
                return (machine.home, machine.sealed, policy)
            }()
            defer { home.remove() }
            let tpm = try TPMConnection(tcti: swtpm.tcti)
            #expect(throws: TPM2Error.noObjectAtHandle) { try tpm.unseal(sealed, parent: Self.parent, policy: policy) }
            try tpm.makeStorageParent(at: Self.parent)
            let error = try #require(throws: TPM2Error.self) {
                try tpm.unseal(sealed, parent: Self.parent, policy: policy)
            }
            #expect(error.responseCode != nil, "\(error)")
            try expectNothingLeftLoaded(tpm)
        }
    }

    @Test func refusesAnOccupiedHandleAndBadArguments() throws {
        try SoftwareTPM.run { swtpm in
            let tpm = try TPMConnection(tcti: swtpm.tcti)
            try tpm.makeStorageParent(at: Self.parent)
            let occupied = try #require(throws: TPM2Error.self) { try tpm.makeStorageParent(at: Self.parent) }
            #expect(occupied == .handleOccupied)
            #expect(occupied.description.contains("0x81000101"))
            #expect(try tpm.handles(.persistentObject) == [Self.parent])

            let policy = [UInt8](repeating: 1, count: 32)
            #expect(throws: TPM2Error.self) { try tpm.seal(SecretBytes([]), parent: Self.parent, authPolicy: policy) }
            #expect(throws: TPM2Error.self) {
                try tpm.seal(SecretBytes([UInt8](repeating: 1, count: 129)), parent: Self.parent, authPolicy: policy)
            }
            #expect(throws: TPM2Error.self) { try tpm.seal(SecretBytes([1]), parent: Self.parent, authPolicy: [1]) }
            #expect(throws: TPM2Error.noObjectAtHandle) {
                try tpm.seal(SecretBytes([1]), parent: 0x8100_0102, authPolicy: policy)
            }
            #expect(throws: TPM2Error.self) { try tpm.makeStorageParent(at: 0x8180_0000) }
            let sealed = try tpm.seal(
                SecretBytes([UInt8](repeating: 7, count: 128)), parent: Self.parent, authPolicy: policy
            )
            #expect(sealed.authPolicy == policy)
            try expectNothingLeftLoaded(tpm)
        }
    }
}
