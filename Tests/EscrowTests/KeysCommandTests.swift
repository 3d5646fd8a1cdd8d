import ArgumentParser
import CryptoPrimitives
import Escrow
import Foundation
import SystemPackage
import TestSupport
import Testing

@testable import Appliance
@testable import saatkond

/// The `saatkond keys` escrow commands end to end, parsed from their arguments as the executable parses them:
/// officials make keys, provisioning escrows to them, three officials open their shares, home recovers the keys
/// into files the appliance's key reader accepts.
@Suite struct KeysCommandTests {
    static func run(_ command: any ParsableCommand.Type, _ arguments: [String]) throws {
        var parsed = try command.parseAsRoot(arguments)
        try parsed.run()
    }

    static func mode(_ path: String) throws -> Int {
        try (FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as! NSNumber).intValue
    }

    @Test func officialsOpenTheirSharesAndHomeRecoversTheKeys() throws {
        let scratch = try ScratchDirectory(prefix: "escrow-keys")
        defer { scratch.remove() }
        let names = ["Mari Tamm", "Jaan Kask", "Liis Mägi", "Peeter Saar"]
        for (index, _) in names.enumerated() {
            try Self.run(KeysOfficialKey.self, ["--output", "\(scratch.path)/official-\(index).key"])
            #expect(try Self.mode("\(scratch.path)/official-\(index).key") == 0o600)
        }
        #expect(throws: (any Error).self) {
            try Self.run(KeysOfficialKey.self, ["--output", "\(scratch.path)/official-0.key"])
        }

        // Provisioning: the keys service would do this with the sealed storage key.
        let storageKey = try X25519PrivateKey()
        let journalKey = try CryptoRandom.secretBytes(count: 32)
        let officials = try names.enumerated().map { index, name in
            (name, try EscrowFiles.readPublicKey(FilePath("\(scratch.path)/official-\(index).key.pub")))
        }
        let bundle = try EscrowBundle.make(
            secret: SecretBytes(storageKey.rawRepresentation.bytes + journalKey.bytes), threshold: 3,
            officials: officials, appliance: "tallinn-1", storagePublicKey: storageKey.publicKey)
        let bundlePath = "\(scratch.path)/tallinn-1.escrow"
        try Data(bundle.serialized()).write(to: URL(fileURLWithPath: bundlePath))

        for index in [0, 2, 3] {
            try Self.run(
                KeysOpenShare.self,
                [
                    "--bundle", bundlePath, "--official", names[index], "--key",
                    "\(scratch.path)/official-\(index).key",
                    "--output", "\(scratch.path)/\(index).share",
                ])
            #expect(try Self.mode("\(scratch.path)/\(index).share") == 0o600)
        }
        // Jaan's key does not open Mari's share.
        #expect(throws: (any Error).self) {
            try Self.run(
                KeysOpenShare.self,
                [
                    "--bundle", bundlePath, "--official", names[0], "--key", "\(scratch.path)/official-1.key",
                    "--output", "\(scratch.path)/stolen.share",
                ])
        }
        #expect(!FileManager.default.fileExists(atPath: "\(scratch.path)/stolen.share"))

        let shares = [0, 2, 3].flatMap { ["--share", "\(scratch.path)/\($0).share"] }
        // Two shares are not enough, and nothing is written.
        #expect(throws: (any Error).self) {
            try Self.run(
                KeysRecover.self, ["--bundle", bundlePath, "--output", "\(scratch.path)/keys"] + shares.prefix(4))
        }
        #expect(!FileManager.default.fileExists(atPath: "\(scratch.path)/keys/storage-private-key"))

        try Self.run(KeysRecover.self, ["--bundle", bundlePath, "--output", "\(scratch.path)/keys"] + shares)
        let storageText = try String(contentsOfFile: "\(scratch.path)/keys/storage-private-key", encoding: .utf8)
        let journalText = try String(contentsOfFile: "\(scratch.path)/keys/journal-key", encoding: .utf8)
        #expect(storageText == storageKey.rawRepresentation.bytes.hex + "\n")
        #expect(journalText == journalKey.bytes.hex + "\n")
        #expect(try Self.mode("\(scratch.path)/keys/storage-private-key") == 0o600)
        #expect(try Self.mode("\(scratch.path)/keys/journal-key") == 0o600)
        // The appliance's own key reader takes both files.
        for name in ["storage-private-key", "journal-key"] {
            _ = try KeyFile.read(FilePath("\(scratch.path)/keys/\(name)"), in: "recovered keys")
        }

        // A second recovery into the same directory overwrites nothing.
        #expect(throws: (any Error).self) {
            try Self.run(KeysRecover.self, ["--bundle", bundlePath, "--output", "\(scratch.path)/keys"] + shares)
        }
        #expect(try String(contentsOfFile: "\(scratch.path)/keys/journal-key", encoding: .utf8) == journalText)
    }
}
