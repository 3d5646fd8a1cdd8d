import ArgumentParser
import Escrow
import Foundation
import SystemPackage

/// `saatkond keys official-key`: a home official's X25519 key pair, to which the appliance seals their share of the
/// storage secret at provisioning.
struct KeysOfficialKey: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "official-key",
        abstract: "Make a home official's key pair for the escrow of an appliance's storage secret.",
        discussion: """
            Writes the private key to PATH (0600, 64 hexadecimal digits) and the public key to PATH.pub; neither may \
            exist. Give PATH.pub to provisioning; keep PATH offline: it opens this official's share of every \
            appliance escrowed to it.
            """)

    @Option(help: "Where to write the private key; the public key goes to the same path with .pub added.")
    var output: String

    func run() throws {
        reportProtectionProblems()
        do {
            let publicKey = try EscrowFiles.makeOfficialKey(at: FilePath(output))
            print("wrote the private key to \(output) and the public key \(publicKey.hexadecimal) to \(output).pub")
        } catch {
            throw CommandFailure("saatkond keys official-key: \(error)")
        }
    }
}

/// `saatkond keys open-share`: one official opens their share of an escrow bundle with their private key.
struct KeysOpenShare: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "open-share",
        abstract: "Open one official's share of an appliance's escrow bundle, for `saatkond keys recover`.",
        discussion: """
            The share file names the bundle, the appliance, the official and the share's x, and holds the share: \
            keep it as secret as the private key until the recovery, and destroy it afterwards.
            """)

    @Option(help: "The escrow bundle the appliance wrote at provisioning.")
    var bundle: String

    @Option(help: "The official's name, as the bundle lists it.")
    var official: String

    @Option(help: "The official's private key, from `saatkond keys official-key`.")
    var key: String

    @Option(help: "Where to write the share (a new file, 0600).")
    var output: String

    func run() throws {
        reportProtectionProblems()
        do {
            let escrow = try EscrowFiles.readBundle(FilePath(bundle))
            let share = try escrow.openShare(
                official: official, privateKey: try EscrowFiles.readPrivateKey(FilePath(key)))
            try share.serialized().withUnsafeBytes {
                try EscrowFiles.writeNewFile($0, to: FilePath(output), permissions: [.ownerReadWrite])
            }
            print(
                "opened the share of \(official) (x = \(share.share.x)) of appliance \(escrow.appliance), bundle "
                    + "\(escrow.identifierHexadecimal), into \(output); \(escrow.threshold) of "
                    + "\(escrow.officials.count) officials' shares recover the keys")
        } catch {
            throw CommandFailure("saatkond keys open-share: \(error)")
        }
    }
}

/// `saatkond keys recover`: at home, the threshold of officials' shares back into the storage private key and the
/// journal key, without the appliance and without its TPM.
struct KeysRecover: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recover",
        abstract: "Recover an appliance's storage private key and journal key from its officials' shares.",
        discussion: """
            Writes DIR/storage-private-key and DIR/journal-key (0600, 64 hexadecimal digits each); neither may \
            exist. The recovered private key is checked against the bundle's storage public key, and the whole \
            secret against the bundle's check value, so damaged shares are an error, never a wrong key. Compare \
            the storage public key printed with the one recorded at provisioning: the bundle itself is not signed.
            """)

    @Option(help: "The escrow bundle the shares were opened from.")
    var bundle: String

    @Option(help: "A share file from `saatkond keys open-share`; give one --share per official.")
    var share: [String] = []

    @Option(help: "The directory to write the two keys to (made, 0700, if missing).")
    var output: String

    func validate() throws {
        guard !share.isEmpty else { throw ValidationError("give the officials' share files, one --share each") }
    }

    func run() throws {
        reportProtectionProblems()
        let directory = FilePath(output)
        let storagePath = directory.appending("storage-private-key")
        let journalPath = directory.appending("journal-key")
        do {
            // Both are refused before anything is recovered, so that no half of a pair is ever written.
            for path in [storagePath, journalPath] where FileManager.default.fileExists(atPath: path.string) {
                throw CommandFailure("\(path) exists already; nothing is overwritten: give a new --output directory")
            }
            let escrow = try EscrowFiles.readBundle(FilePath(bundle))
            let shares = try share.map { try EscrowFiles.readShare(FilePath($0)) }
            let keys = try escrow.recover(shares: shares)
            try FileManager.default.createDirectory(
                atPath: output, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try EscrowFiles.writeKey(keys.storagePrivateKey.rawRepresentation, to: storagePath)
            try EscrowFiles.writeKey(keys.journalKey, to: journalPath)
            print("recovered the keys of appliance \(escrow.appliance) (bundle \(escrow.identifierHexadecimal))")
            print("shares used: \(shares.map(\.official).joined(separator: ", "))")
            print("storage public key: \(escrow.storagePublicKey.hexadecimal)")
            print("wrote \(storagePath) and \(journalPath)")
        } catch {
            throw CommandFailure("saatkond keys recover: \(error)")
        }
    }
}

/// Tells the user what protection of the keys in memory could not be set up; the command still runs.
private func reportProtectionProblems() {
    for problem in EscrowFiles.protectProcess() {
        FileHandle.standardError.write(Data("saatkond keys: warning: \(problem)\n".utf8))
    }
}
