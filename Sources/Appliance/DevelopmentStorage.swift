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

    /// The development receipt-signing key (ECDSA P-256, a PKCS#8 PEM file, 0600), and its public half in
    /// ``StateDirectory/receiptSigningPublicKey`` (PEM) for whoever verifies receipts. On the appliance the key lives
    /// in the TPM and signs through the keys service; here it is a file, named as such.
    static func loadOrCreateSigningKey(_ state: StateDirectory) throws -> P256PrivateKey {
        try FileSystemCalls.createDirectories(state.keys)
        let path = state.keys.appending(developmentSigningKeyName)
        if !FileSystemCalls.exists(path) {
            try P256PrivateKey().pemRepresentation.withUnsafeBytes {
                try FileSystemCalls.writeAtomically($0, to: path)
            }
        }
        let key: P256PrivateKey
        do {
            key = try P256PrivateKey(pemRepresentation: try KeyFile.readPEM(path, in: state.keys.string))
        } catch let error as CryptoError {
            throw ConfigurationError("\(path) is not a P-256 private key in PEM: \(error.message)")
        }
        // Written apart from the private key, so that a crash between the two writes still gets it; derived from the
        // private key each start, so that it always matches the key that signs.
        let publicKey = Array(key.publicKey.pemRepresentation.utf8)
        let existing = try? FileSystemCalls.readAll(state.receiptSigningPublicKey)
        if existing != publicKey {
            try publicKey.withUnsafeBytes {
                try FileSystemCalls.writeAtomically(
                    $0, to: state.receiptSigningPublicKey, permissions: [.ownerReadWrite, .groupRead, .otherRead])
            }
        }
        return key
    }

    /// The development receipt-signing key's file in the keys directory.
    static let developmentSigningKeyName = "development-signing-key.pem"
}
