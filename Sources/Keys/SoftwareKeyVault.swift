import CryptoPrimitives
import DurableFiles
import SystemPackage

/// Keys in plain files (0600) in the state directory: what `saatkond dev` uses where swtpm is not installed.
/// Insecure by construction — anyone who copies the directory has the keys — and said so at every start; never
/// used by `saatkond keys` itself, whose configuration must name a TPM.
public struct SoftwareKeyVault: KeyVault {
    private let files: KeysStateFiles

    public init(directory: FilePath) {
        files = KeysStateFiles(directory: directory)
    }

    public var kind: String { "software keys in \(files.directory) (insecure: development only)" }

    private var storageKeyFile: FilePath { files.directory.appending("insecure-storage.key") }
    private var journalKeyFile: FilePath { files.directory.appending("insecure-journal.key") }
    private var signingKeyFile: FilePath { files.directory.appending("insecure-signing.pem") }

    public func holdsKeys() throws -> Bool {
        [storageKeyFile, journalKeyFile, signingKeyFile].contains { FileSystemCalls.exists($0) }
    }

    public func provision(storagePrivateKey: SecretBytes, journalKey: SecretBytes) throws -> P256PublicKey {
        guard try !holdsKeys() else { throw KeysError("\(files.directory) already holds software keys") }
        try FileSystemCalls.createDirectories(files.directory)
        try storagePrivateKey.withUnsafeBytes { try FileSystemCalls.writeAtomically($0, to: storageKeyFile) }
        try journalKey.withUnsafeBytes { try FileSystemCalls.writeAtomically($0, to: journalKeyFile) }
        let signing = try P256PrivateKey()
        try signing.pemRepresentation.withUnsafeBytes { try FileSystemCalls.writeAtomically($0, to: signingKeyFile) }
        return signing.publicKey
    }

    public func unsealJournalKey() throws -> SecretBytes {
        try readKey(journalKeyFile)
    }

    public func unsealStorageKey() throws -> SecretBytes {
        try readKey(storageKeyFile)
    }

    public func signingPublicKey() throws -> P256PublicKey {
        try signingKey().publicKey
    }

    public func sign(_ message: [UInt8]) throws -> [UInt8] {
        try signingKey().signature(for: message)
    }

    public func probe() throws {}

    public func quote(nonce: [UInt8]) throws -> QuoteEvidence {
        throw KeysError("software keys have no TPM: there is no quote of the measurements (development only)")
    }

    public func zeroize() throws {
        for file in [storageKeyFile, journalKeyFile, signingKeyFile] { try files.shred(file) }
    }

    private func signingKey() throws -> P256PrivateKey {
        try P256PrivateKey(pemRepresentation: try SecretFile.read(signingKeyFile.string))
    }

    private func readKey(_ path: FilePath) throws -> SecretBytes {
        var count = 0
        let key = try SecretBytes(count: 33) { buffer in count = try FileSystemCalls.read(path, into: buffer) }
        guard count == 32 else { throw VaultLocked("\(path) is not a 32-byte key") }
        return SecretBytes(count: 32) { out in key.withUnsafeBytes { out.copyMemory(from: .init(rebasing: $0[..<32])) }
        }
    }
}
