import CryptoPrimitives
import Foundation
import TestSupport
import Testing

@testable import Escrow

/// Bundle and share files as hostile input: random, truncated and mutated files never crash the parser, and
/// whatever still parses, opens and combines gives the true keys, never others.
@Suite struct EscrowHostileInputTests {
    /// One of several kinds of damage: flipped bits, replaced bytes, a cut, an insertion, a removed range.
    static func mutate(_ bytes: [UInt8], _ random: inout SplitMix64) -> [UInt8] {
        var bytes = bytes
        let position = { (random: inout SplitMix64) in Int.random(in: 0..<max(1, bytes.count), using: &random) }
        switch Int.random(in: 0..<5, using: &random) {
        case 0:
            for _ in 0..<Int.random(in: 1...4, using: &random) where !bytes.isEmpty {
                bytes[position(&random)] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &random)
            }
        case 1:
            for _ in 0..<Int.random(in: 1...4, using: &random) where !bytes.isEmpty {
                bytes[position(&random)] = Array("0123456789abcdef{}[]\":, x".utf8).randomElement(using: &random)!
            }
        case 2:
            bytes = Array(bytes.prefix(position(&random)))
        case 3:
            bytes.insert(contentsOf: random.bytes(Int.random(in: 1...8, using: &random)), at: position(&random))
        default:
            let start = position(&random)
            bytes.removeSubrange(start..<min(bytes.count, start + Int.random(in: 1...40, using: &random)))
        }
        return bytes
    }

    @Test func randomAndDamagedBundlesNeverYieldAWrongKey() throws {
        let fixture = try EscrowFixture()
        let original = fixture.bundle.serialized()
        var random = SplitMix64(seed: 0xE5C0)
        var parsed = 0
        var recovered = 0
        for trial in 0..<600 {
            let bytes =
                trial < 50 ? random.bytes(Int.random(in: 0...400, using: &random)) : Self.mutate(original, &random)
            guard let bundle = try? EscrowBundle(parsing: bytes) else { continue }
            parsed += 1
            let shares = fixture.officials.compactMap { try? bundle.openShare(official: $0.name, privateKey: $0.key) }
            guard let keys = try? bundle.recover(shares: shares) else { continue }
            recovered += 1
            #expect(keys.storagePrivateKey.rawRepresentation.bytes == fixture.storageKey.rawRepresentation.bytes)
            #expect(keys.journalKey.bytes == fixture.journalKey.bytes)
        }
        // Some damage is harmless (white space, a flip in an ignored place): the loop must have seen files that
        // still parse, and some that even recover, to show that the check above was reached.
        #expect(parsed > 0 && parsed < 600)
        #expect(recovered > 0)
    }

    @Test func damagedShareFilesNeverYieldAWrongKey() throws {
        let fixture = try EscrowFixture()
        let files = try (0..<3).map { try fixture.share($0).serialized().bytes }
        var random = SplitMix64(seed: 0x5AA2E)
        for _ in 0..<600 {
            let victim = Int.random(in: 0..<3, using: &random)
            var shares: [EscrowShare] = []
            for (index, file) in files.enumerated() {
                let bytes = index == victim ? Self.mutate(file, &random) : file
                if let share = try? bytes.withUnsafeBytes({ try EscrowShare(parsing: $0) }) { shares.append(share) }
            }
            guard let keys = try? fixture.bundle.recover(shares: shares) else { continue }
            #expect(keys.storagePrivateKey.rawRepresentation.bytes == fixture.storageKey.rawRepresentation.bytes)
            #expect(keys.journalKey.bytes == fixture.journalKey.bytes)
        }
    }

    @Test func oversizedFilesAreRefusedBeforeParsing() throws {
        let huge = [UInt8](repeating: UInt8(ascii: " "), count: EscrowBundle.maximumFileByteCount + 1)
        #expect(throws: EscrowError.malformedBundle("")) { try EscrowBundle(parsing: huge) }
        let deep = Array(String(repeating: "[", count: 100_000).utf8)
        #expect(throws: EscrowError.malformedBundle("")) { try EscrowBundle(parsing: deep) }
        let long = [UInt8](repeating: UInt8(ascii: "a"), count: EscrowShare.maximumFileByteCount + 1)
        #expect(throws: EscrowError.malformedShare("")) { try long.withUnsafeBytes { try EscrowShare(parsing: $0) } }
    }

    /// Each field of a valid bundle, replaced with something of the wrong kind, is named in the refusal.
    @Test func eachFieldIsChecked() throws {
        let fixture = try EscrowFixture()
        let document = try JSONSerialization.jsonObject(with: Data(fixture.bundle.serialized())) as! [String: Any]
        let replacements: [String: Any] = [
            "format": "other", "version": 2, "identifier": "00", "appliance": "", "created": "yesterday",
            "threshold": 6, "storagePublicKey": String(repeating: "A", count: 64), "secretCheck": "zz",
            "officials": [[String: Any]](),
        ]
        for (field, value) in replacements {
            var changed = document
            changed[field] = value
            #expect(throws: EscrowError.malformedBundle(""), "\(field)") {
                try EscrowBundle(parsing: Array(try JSONSerialization.data(withJSONObject: changed)))
            }
        }
        let officialReplacements: [String: Any] = [
            "name": "a\u{7}b", "publicKey": "00", "x": 0, "encapsulatedKey": "", "ciphertext": "ab",
        ]
        for (field, value) in officialReplacements {
            var changed = document
            var officials = changed["officials"] as! [[String: Any]]
            officials[2][field] = value
            changed["officials"] = officials
            #expect(throws: EscrowError.malformedBundle(""), "\(field)") {
                try EscrowBundle(parsing: Array(try JSONSerialization.data(withJSONObject: changed)))
            }
        }
        var duplicateX = document
        var officials = duplicateX["officials"] as! [[String: Any]]
        officials[1]["x"] = officials[0]["x"]
        duplicateX["officials"] = officials
        #expect(throws: EscrowError.malformedBundle("")) {
            try EscrowBundle(parsing: Array(try JSONSerialization.data(withJSONObject: duplicateX)))
        }
    }
}
