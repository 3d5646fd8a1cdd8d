import CryptoPrimitives
import DevelopmentIdentity
import DurableFiles
import ErasureStore
import StoreFormat
import StreamStore
import SystemPackage

/// The development appliance's array: eleven member directories under `<state>/members`, 8 + 3 as on a 12-bay
/// chassis, and development keys in `<state>/keys`.
///
/// The development keys sit in plain files, 0600, named as such; on the appliance the storage private key is sealed
/// in the TPM and the ingest service never holds it.
enum DevelopmentStorage {
    static func openOrCreate(_ state: StateDirectory) throws -> ErasureCodedStore {
        let geometry = ArrayGeometry.twelveBay
        let members = (0..<geometry.memberCount).map { state.members.appending(String(format: "disk-%02d", $0)) }
        let keys = try loadOrCreateKeys(state.keys)
        // A new array only where no member carries a label: one disk moved away (its directory gone, or its label)
        // is an absent member, and labelling its place anew would leave a member of another array there.
        if !members.contains(where: { FileSystemCalls.exists($0.appending("saatkond-member")) }) {
            _ = try ErasureCodedStore.create(members: members, geometry: geometry)
        }
        return try ErasureCodedStore(members: members, keys: keys)
    }

    static func loadOrCreateKeys(_ directory: FilePath) throws -> StorageKeys {
        try FileSystemCalls.createDirectories(directory)
        let privatePath = directory.appending("development-storage-private-key")
        let journalPath = directory.appending("development-journal-key")
        let present = [privatePath, journalPath].filter { FileSystemCalls.exists($0) }
        if present.count == 1 {
            // A new pair would make everything stored under the old one unreadable, and overwrite the key that is
            // still there: a missing key file is a mistake to report, never a reason to start over.
            let missing = present[0] == privatePath ? journalPath : privatePath
            throw StreamStorageError.unavailable(
                "\(missing) is missing but \(present[0]) is there: put the missing key back (a new key pair would "
                    + "make the stored streams unreadable); only a state directory with neither key gets new ones")
        }
        if present.isEmpty {
            let privateKey = try X25519PrivateKey()
            try privateKey.rawRepresentation.withUnsafeBytes {
                try FileSystemCalls.writeAtomically($0, to: privatePath)
            }
            let journal = try CryptoRandom.secretBytes(count: 32)
            try journal.withUnsafeBytes { try FileSystemCalls.writeAtomically($0, to: journalPath) }
        }
        let privateKey = try X25519PrivateKey(rawRepresentation: try KeyFile.read(privatePath, in: directory.string))
        return try StorageKeys(
            storagePublicKey: privateKey.publicKey, storagePrivateKey: privateKey,
            journalKey: try KeyFile.read(journalPath, in: directory.string))
    }

    /// The development receipt-signing key (an Ed25519 seed), and its public half in
    /// ``StateDirectory/receiptSigningPublicKey`` (hex) for whoever verifies receipts.
    static func loadOrCreateSigningKey(_ state: StateDirectory) throws -> Ed25519PrivateKey {
        try FileSystemCalls.createDirectories(state.keys)
        let path = state.keys.appending("development-signing-key")
        if !FileSystemCalls.exists(path) {
            let key = try Ed25519PrivateKey()
            try key.rawRepresentation.withUnsafeBytes { try FileSystemCalls.writeAtomically($0, to: path) }
        }
        let key = try Ed25519PrivateKey(rawRepresentation: try KeyFile.read(path, in: state.keys.string))
        // Written apart from the seed, so that a state directory from before it existed, or a crash between the two
        // writes, still gets it; derived from the seed, so it always matches the key that signs.
        if !FileSystemCalls.exists(state.receiptSigningPublicKey) {
            let hex = key.publicKey.rawRepresentation.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
            try Array((hex + "\n").utf8).withUnsafeBytes {
                try FileSystemCalls.writeAtomically(
                    $0, to: state.receiptSigningPublicKey, permissions: [.ownerReadWrite, .groupRead, .otherRead])
            }
        }
        return key
    }
}
