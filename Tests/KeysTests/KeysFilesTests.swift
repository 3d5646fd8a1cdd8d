import ConfigurationFile
import CryptoPrimitives
import Foundation
import HashChain
import Keys
import LocalControl
import TPM2
import TestSupport
import Testing

@Suite("Keys configuration, policy files and decommission orders")
struct KeysFilesTests {
    static let minimal = """
        state-directory = /var/lib/saatkond-keys
        tcti = device:/dev/tpmrm0
        pcrs = sha256:0,2,4,7
        policy-key = /etc/saatkond/keys/home-policy.pem
        policy-directory = /etc/saatkond/keys/policies
        official = alice /etc/saatkond/keys/alice.pub
        official = bob /etc/saatkond/keys/bob.pub
        official = carol /etc/saatkond/keys/carol.pub
        escrow-threshold = 2
        socket = /run/saatkond/keys.sock
        appliance-name = ee-embassy-lu-1
        ingest-uid = 991
        reader-uid = 992
        reader-uid = 993
        """

    @Test("a configuration parses, with defaults")
    func parses() throws {
        let configuration = try KeysConfiguration(parsing: Self.minimal, file: "keys.conf")
        #expect(configuration.pcrs.description == "sha256:0,2,4,7")
        #expect(configuration.officials.map(\.name) == ["alice", "bob", "carol"])
        #expect(configuration.readerUIDs == [992, 993])
        #expect(configuration.parentHandle == 0x8153_5301)
        #expect(configuration.escrowThreshold == 2)
    }

    @Test(
        "every mistake names the file and line",
        arguments: [
            ("pcrs = sha256:0,2,4,7", "pcrs = sha999:1", "keys.conf:3: 'pcrs' must be"),
            ("escrow-threshold = 2", "escrow-threshold = 4", "keys.conf:9: 'escrow-threshold' must be a number in 2…3"),
            (
                "official = bob /etc/saatkond/keys/bob.pub", "official = alice /x",
                "keys.conf:7: official 'alice' is named"
            ),
            ("ingest-uid = 991", "ingest-uid = root", "keys.conf:12: 'ingest-uid' must be a numeric id"),
            ("socket = /run/saatkond/keys.sock", "sockett = /x", "keys.conf:10: unknown key 'sockett'"),
            ("tcti = device:/dev/tpmrm0", "tcti = ", "keys.conf:2: 'tcti' has no value"),
        ])
    func mistakes(original: String, replacement: String, expected: String) {
        let text = Self.minimal.replacingOccurrences(of: original, with: replacement)
        #expect {
            _ = try KeysConfiguration(parsing: text, file: "keys.conf")
        } throws: { error in
            "\(error)".hasPrefix(expected)
        }
    }

    @Test("a signed policy file round-trips and checks against home's key")
    func policyRoundTrip() throws {
        let home = try P256PrivateKey()
        let policy = try SignedPolicy.sign(
            pcrs: try PCRSelection(bank: .sha256, indices: [7]), policy: [UInt8](repeating: 7, count: 32), with: home,
            comment: "release 2026.12")
        let parsed = try SignedPolicy(text: policy.text, source: "p")
        #expect(parsed == policy)
        #expect(parsed.isSigned(by: home.publicKey))
        #expect(!parsed.isSigned(by: try P256PrivateKey().publicKey))
    }

    @Test("policy files that are random, cut or altered give an error, never a crash or a wrong signature")
    func policyFuzz() throws {
        let home = try P256PrivateKey()
        let text = Array(
            try SignedPolicy.sign(
                pcrs: try! PCRSelection(bank: .sha256, indices: [0, 7]), policy: [UInt8](repeating: 1, count: 32),
                with: home
            ).text.utf8)
        var random = SplitMix64(seed: 0x5EED)
        for round in 0..<2000 {
            var bytes = text
            switch round % 3 {
            case 0: bytes = Array(bytes.prefix(Int(random.next() % UInt64(bytes.count))))
            case 1:
                for _ in 0...(random.next() % 4) {
                    bytes[Int(random.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: random.next())
                }
            default: bytes = (0..<(random.next() % 300)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            }
            if let parsed = try? SignedPolicy(text: String(decoding: bytes, as: UTF8.self), source: "fuzz"),
                parsed.isSigned(by: home.publicKey)
            {
                // Only a change that left the signed content intact (the comment, white space) may still verify.
                #expect(parsed.policy == [UInt8](repeating: 1, count: 32))
            }
        }
    }

    @Test("a decommission order needs the quorum of different home keys and this appliance's name")
    func decommissionQuorum() throws {
        let board = try (0..<3).map { _ in try P256PrivateKey() }
        let policy = DecommissionPolicy(keys: board.map(\.publicKey), quorum: 2, appliance: "ee-1")
        let storage = try X25519PrivateKey().publicKey
        let order =
            "saatkond decommission v1\nappliance = ee-1\nstorage-public-key = \(Hex.encode(storage.rawRepresentation))"
            + "\nissued = 2026-12-06T10:00:00Z\nreason = test\n"
        func body(_ text: String, _ signers: [P256PrivateKey]) throws -> [String: JSONValue] {
            [
                "order": .string(text),
                "signatures": .array(try signers.map { .string(Hex.encode(try $0.signature(for: Array(text.utf8)))) }),
            ]
        }
        #expect(
            try policy.check(try body(order, [board[0], board[2]]), storagePublicKey: storage).summary.contains(
                "signed by 2"))
        #expect(throws: KeysError.self) { try policy.check(try body(order, [board[1]]), storagePublicKey: storage) }
        #expect(throws: KeysError.self) {
            try policy.check(try body(order, [board[1], board[1]]), storagePublicKey: storage)
        }
        #expect(throws: KeysError.self) {
            try policy.check(try body(order, [board[0], try P256PrivateKey()]), storagePublicKey: storage)
        }
        let other = order.replacingOccurrences(of: "ee-1", with: "ee-2")
        #expect(throws: KeysError.self) {
            try policy.check(try body(other, [board[0], board[1]]), storagePublicKey: storage)
        }
        // The same order on another chassis given the same name (other keys) does nothing.
        #expect(throws: KeysError.self) {
            try policy.check(try body(order, [board[0], board[1]]), storagePublicKey: try X25519PrivateKey().publicKey)
        }
        // Signatures over one order do not carry over to another.
        var moved = try body(order, [board[0], board[1]])
        moved["order"] = .string(order.replacingOccurrences(of: "reason = test", with: "reason = other"))
        #expect(throws: KeysError.self) { try policy.check(moved, storagePublicKey: storage) }
    }
}
