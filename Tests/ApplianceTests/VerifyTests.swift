import CryptoPrimitives
import Foundation
import HashChain
import TestSupport
import Testing

/// `saatkond verify` as a verifier at home uses it: a receipt written by a real `saatkond send --receipt` against a
/// real `saatkond dev`, checked offline (the appliance is stopped first) with the appliance's public key alone.
@Suite("Verifying receipts", .enabled(if: SaatkondExecutable.exists))
struct VerifyTests {
    /// A receipt signed by a development appliance, and what it covers.
    struct SignedReceipt {
        let scratch: ScratchDirectory
        let state: String
        let input: String
        let receipt: String
        let length: Int
        /// The appliance's public key, copied away from its state directory: all a verifier holds.
        let publicKey: String

        static let stream = "ee.population.wal"

        /// Sends a file of a few MiB (not a whole number of hash-chain chunks) with `--receipt`, then stops the
        /// appliance.
        init(prefix: String) throws {
            scratch = try ScratchDirectory(prefix: prefix)
            state = "\(scratch.path)/state"
            input = "\(scratch.path)/input.bin"
            receipt = "\(scratch.path)/receipt.txt"
            publicKey = "\(scratch.path)/appliance-public-key.pem"
            length = (3 << 20) + 12_345
            try writeRandomFile(input, count: length)
            let appliance = try DevAppliance(state: state, logs: scratch.path)
            let sent = try runSaatkond(
                [
                    "send", "--state", state, "--connect", "127.0.0.1:\(appliance.port)", "--stream", Self.stream,
                    "--receipt", receipt, input,
                ],
                scratch: scratch.path)
            #expect(appliance.stop() == 0, "the appliance did not stop cleanly: \(appliance.errors)")
            guard sent.status == 0 else { throw TestSupportError("send --receipt failed: \(sent.errors)") }
            try FileManager.default.copyItem(
                atPath: "\(state)/keys/signing.pem", toPath: publicKey)
        }

        /// Runs `saatkond verify` on `receipt` with the copied public key and `options`.
        func verify(_ receipt: String? = nil, _ options: [String] = []) throws -> CommandResult {
            try runSaatkond(
                ["verify", "--public-key", publicKey, receipt ?? self.receipt] + options, scratch: scratch.path)
        }

        /// A copy of the receipt with the line that starts with `field` changed by `change`.
        func tampered(_ field: String, _ change: (String) -> String) throws -> String {
            let lines = try String(contentsOfFile: receipt, encoding: .utf8).components(separatedBy: "\n")
            let changed = lines.map { $0.hasPrefix(field + ": ") ? change($0) : $0 }
            #expect(changed != lines, "the receipt has no \(field) line")
            let path = "\(scratch.path)/tampered-\(UUID().uuidString).txt"
            try changed.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }

        /// The value of a field of the receipt.
        func field(_ name: String) throws -> String {
            let lines = try String(contentsOfFile: receipt, encoding: .utf8).components(separatedBy: "\n")
            let line = try #require(lines.first { $0.hasPrefix(name + ": ") })
            return String(line.dropFirst(name.count + 2))
        }
    }

    @Test("a receipt from send --receipt verifies offline with the public key alone, and covers exactly the file")
    func verifies() throws {
        let signed = try SignedReceipt(prefix: "saatkond-verify")
        defer { signed.scratch.remove() }
        // The head as home computes it from its own copy, not as the receipt states it.
        let input = [UInt8](try Data(contentsOf: URL(fileURLWithPath: signed.input)))
        let head = "\(StreamHashChain.head(of: input))"
        #expect(try signed.field("head") == head)
        #expect(try signed.field("length") == "\(signed.length)")

        let plain = try signed.verify()
        #expect(plain.status == 0, "\(plain.errors)")
        let summary = plain.output.trimmingCharacters(in: .newlines)
        #expect(!summary.contains("\n"), "one line: \(summary)")
        #expect(
            summary.hasPrefix(
                "valid receipt: stream \(SignedReceipt.stream), length \(signed.length), head \(head), time 20"),
            "\(summary)")
        #expect(summary.hasSuffix("appliance saatkond-dev"), "\(summary)")

        // Everything a verifier may assert at once, including the bytes it sent: the appliance holds exactly them.
        let everything = try signed.verify(
            nil,
            [
                "--stream", SignedReceipt.stream, "--length", "\(signed.length)", "--head", head.uppercased(),
                "--file", signed.input,
            ])
        #expect(everything.status == 0, "\(everything.errors)")
        #expect(everything.output.contains(", matches \(signed.input)"), "\(everything.output)")

        // Without --public-key, the development appliance's key in its state directory.
        let byState = try runSaatkond(
            ["verify", "--state", signed.state, signed.receipt], scratch: signed.scratch.path)
        #expect(byState.status == 0, "\(byState.errors)")
    }

    @Test("a changed length digit or a flipped signature byte fails the signature, with a clear message")
    func tampered() throws {
        let signed = try SignedReceipt(prefix: "saatkond-verify-tampered")
        defer { signed.scratch.remove() }
        let longer = try signed.tampered("length") { line in
            let last = line.last!.wholeNumberValue!
            return String(line.dropLast()) + "\((last + 1) % 10)"
        }
        // The flipped byte is the signature's last: its low bit, so the text stays well-formed.
        let flipped = try signed.tampered("signature") { line in
            let last = line.last!.hexDigitValue!
            return String(line.dropLast()) + String(last ^ 1, radix: 16)
        }
        for path in [longer, flipped] {
            let result = try signed.verify(path)
            #expect(result.status != 0)
            #expect(result.output.isEmpty, "\(result.output)")
            #expect(
                result.errors.contains("the signature of \(path) does not verify with this public key"),
                "\(result.errors)")
        }

        // A damaged file says what is wrong with it, and where.
        let damaged = try signed.tampered("head") { "head " + $0.dropFirst(6) }
        let malformed = try signed.verify(damaged)
        #expect(malformed.status != 0)
        #expect(
            malformed.errors.contains("\(damaged) is not a well-formed receipt: line 4: expected the field \"head: \""),
            "\(malformed.errors)")

        // A genuine receipt for something else than expected.
        let stream = try signed.verify(nil, ["--stream", "ee.population.base"])
        #expect(stream.status != 0)
        #expect(
            stream.errors.contains("the receipt is for stream ee.population.wal, not ee.population.base"),
            "\(stream.errors)")
        let length = try signed.verify(nil, ["--length", "\(signed.length + 1)"])
        #expect(length.status != 0)
        #expect(
            length.errors.contains("the receipt covers \(signed.length) bytes, not \(signed.length + 1)"),
            "\(length.errors)")
        let head = try signed.verify(nil, ["--head", String(repeating: "0", count: 64)])
        #expect(head.status != 0)
        #expect(head.errors.contains("the receipt's head is \(try signed.field("head")), not 000"), "\(head.errors)")
    }

    @Test("another appliance's public key, an old Ed25519 key, or a file that is no key, does not verify the receipt")
    func wrongPublicKey() throws {
        let signed = try SignedReceipt(prefix: "saatkond-verify-key")
        defer { signed.scratch.remove() }
        let other = "\(signed.scratch.path)/other"
        let appliance = try DevAppliance(state: other, logs: signed.scratch.path)
        #expect(appliance.stop() == 0)
        let otherKey = "\(other)/keys/signing.pem"
        #expect(
            try String(contentsOfFile: otherKey, encoding: .utf8)
                != String(contentsOfFile: signed.publicKey, encoding: .utf8))

        let result = try runSaatkond(
            ["verify", "--public-key", otherKey, signed.receipt], scratch: signed.scratch.path)
        #expect(result.status != 0)
        // The receipt names its key, so the refusal names both: the one that signed and the one given.
        let named = try signed.field("key")
        let given = try Self.keyID(ofPublicKeyAt: otherKey)
        #expect(named.hasPrefix("p256:") && named != given)
        #expect(
            result.errors.contains("names the signing key \(named), but the public key given is \(given)"),
            "\(result.errors)")

        // The receipt relabelled with the other key's id: now the signature is what fails.
        let relabelled = try signed.tampered("key") { _ in "key: \(given)" }
        let forged = try runSaatkond(
            ["verify", "--public-key", otherKey, relabelled], scratch: signed.scratch.path)
        #expect(forged.status != 0)
        #expect(forged.errors.contains("does not verify with this public key"), "\(forged.errors)")

        // The public key form of before, an Ed25519 key in hexadecimal, is refused by name.
        let ed25519 = "\(signed.scratch.path)/old-key.pub"
        try (String(repeating: "3c", count: 32) + "\n").write(toFile: ed25519, atomically: true, encoding: .utf8)
        let old = try runSaatkond(["verify", "--public-key", ed25519, signed.receipt], scratch: signed.scratch.path)
        #expect(old.status != 0)
        #expect(old.errors.contains("holds an Ed25519 public key"), "\(old.errors)")
        #expect(old.errors.contains("no longer accepted"), "\(old.errors)")
        // A private key is not what a verifier holds.
        let privateKey = try runSaatkond(
            ["verify", "--public-key", "\(signed.state)/keys/home/policy.pem", signed.receipt],
            scratch: signed.scratch.path)
        #expect(privateKey.status != 0)
        #expect(privateKey.errors.contains("holds a private key"), "\(privateKey.errors)")

        let notAKey = try runSaatkond(
            ["verify", "--public-key", signed.input, signed.receipt], scratch: signed.scratch.path)
        #expect(notAKey.status != 0)
        #expect(notAKey.errors.contains("is longer than 4096 bytes"), "\(notAKey.errors)")
        let noKey = try runSaatkond(
            ["verify", "--state", "\(signed.scratch.path)/nowhere", signed.receipt], scratch: signed.scratch.path)
        #expect(noKey.status != 0)
        #expect(noKey.errors.contains("--public-key FILE"), "\(noKey.errors)")
    }

    /// The key id as the receipt format defines it, computed here apart from the Receipts module.
    static func keyID(ofPublicKeyAt path: String) throws -> String {
        let key = try P256PublicKey(pemRepresentation: try String(contentsOfFile: path, encoding: .utf8))
        return "p256:" + Hex.encode(Array(SHA256.hash(key.uncompressedRepresentation).prefix(8)))
    }

    @Test("--file passes for the bytes that were sent, and fails for one changed byte or one byte less")
    func localCopy() throws {
        let signed = try SignedReceipt(prefix: "saatkond-verify-file")
        defer { signed.scratch.remove() }
        var bytes = try Data(contentsOf: URL(fileURLWithPath: signed.input))
        #expect(try signed.verify(nil, ["--file", signed.input]).status == 0)

        let changed = "\(signed.scratch.path)/changed.bin"
        bytes[(1 << 20) + 17] ^= 0x40
        try bytes.write(to: URL(fileURLWithPath: changed))
        let different = try signed.verify(nil, ["--file", changed])
        #expect(different.status != 0)
        #expect(different.errors.contains("differs from \(changed)'s"), "\(different.errors)")
        #expect(
            different.errors.contains(
                "the appliance holds \(signed.length) bytes, but not the bytes of \(changed)"),
            "\(different.errors)")

        let shorter = "\(signed.scratch.path)/shorter.bin"
        bytes[(1 << 20) + 17] ^= 0x40
        try bytes.dropLast().write(to: URL(fileURLWithPath: shorter))
        let short = try signed.verify(nil, ["--file", shorter])
        #expect(short.status != 0)
        #expect(
            short.errors.contains(
                "the receipt covers \(signed.length) bytes of \(SignedReceipt.stream), but \(shorter) holds "
                    + "\(signed.length - 1)"),
            "\(short.errors)")
    }
}
