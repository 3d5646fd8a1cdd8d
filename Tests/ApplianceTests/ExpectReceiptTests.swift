import CryptoPrimitives
import ErasureStore
import Foundation
import HashChain
import StoreFormat
import StreamStore
import SystemPackage
import TestSupport
import Testing

/// `restore --expect-receipt`: a receipt home kept catches storage that the appliance would vouch for but that no
/// longer holds what it acknowledged.
@Suite("Restores checked against a kept receipt", .serialized, .enabled(if: SaatkondExecutable.exists))
struct ExpectReceiptTests {
    static let stream = "ee.land.wal"
    /// Two whole segments of the development array (8 × 1 MiB each), so nothing of it sits in a journal.
    static let segmentBytes = 8 << 20

    @Test("a segment replaced by one made with the public key alone passes the appliance's check, not the receipt's")
    func replacedSegment() throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-expect-receipt")
        defer { scratch.remove() }
        let state = "\(scratch.path)/state"
        let input = "\(scratch.path)/input.bin"
        let receipt = "\(scratch.path)/land.receipt"
        try writeRandomFile(input, count: 2 * Self.segmentBytes)

        var appliance = try DevAppliance(state: state, logs: scratch.path)
        let sent = try runSaatkond(
            [
                "send", "--state", state, "--connect", "127.0.0.1:\(appliance.port)", "--stream", Self.stream,
                "--receipt", receipt, input,
            ],
            scratch: scratch.path)
        #expect(sent.status == 0, "\(sent.errors)")
        #expect(appliance.stop() == 0)

        // Whoever holds the storage public key (the network-facing service does) can write a valid-looking stream:
        // the same first segment, another second one, sealed and erasure-coded as the appliance would.
        try Self.replaceSecondSegment(state: state, scratch: scratch.path, original: input)

        appliance = try DevAppliance(state: state, logs: scratch.path)
        defer { _ = appliance.stop() }
        let connect = ["--state", state, "--connect", "127.0.0.1:\(appliance.port)", "--stream", Self.stream]
        let unchecked = "\(scratch.path)/unchecked.bin"
        let plain = try runSaatkond(["restore"] + connect + ["--output", unchecked], scratch: scratch.path)
        #expect(plain.status == 0, "the appliance's own head vouches for the replacement: \(plain.errors)")
        #expect(!sameBytes(input, unchecked))

        let checked = "\(scratch.path)/checked.bin"
        let refused = try runSaatkond(
            ["restore"] + connect + ["--output", checked, "--expect-receipt", receipt], scratch: scratch.path)
        #expect(refused.status != 0)
        #expect(refused.errors.contains("at \(2 * Self.segmentBytes) bytes"), "\(refused.errors)")
        #expect(refused.errors.contains("the receipt says"), "\(refused.errors)")
        #expect(!FileManager.default.fileExists(atPath: checked), "a copy that failed its check was left behind")
    }

    @Test("a receipt that does not verify, or names another stream, is refused before anything is restored")
    func unusableReceipt() throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-expect-receipt")
        defer { scratch.remove() }
        let state = "\(scratch.path)/state"
        let input = "\(scratch.path)/input.bin"
        let receipt = "\(scratch.path)/r.receipt"
        try writeRandomFile(input, count: 100_000)
        let appliance = try DevAppliance(state: state, logs: scratch.path)
        defer { _ = appliance.stop() }
        let connect = ["--state", state, "--connect", "127.0.0.1:\(appliance.port)"]
        let sent = try runSaatkond(
            ["send"] + connect + ["--stream", Self.stream, "--receipt", receipt, input], scratch: scratch.path)
        #expect(sent.status == 0, "\(sent.errors)")

        let good = "\(scratch.path)/good.bin"
        let restored = try runSaatkond(
            ["restore"] + connect + ["--stream", Self.stream, "--output", good, "--expect-receipt", receipt],
            scratch: scratch.path)
        #expect(restored.status == 0, "\(restored.errors)")
        #expect(sameBytes(input, good))

        let other = try runSaatkond(
            ["restore"] + connect + [
                "--stream", "ee.other", "--output", "\(scratch.path)/o", "--expect-receipt", receipt,
            ],
            scratch: scratch.path)
        #expect(other.status != 0)
        #expect(other.errors.contains("is for stream \(Self.stream), not ee.other"), "\(other.errors)")

        let text = try String(contentsOfFile: receipt, encoding: .utf8)
        let forged = "\(scratch.path)/forged.receipt"
        try text.replacingOccurrences(of: "length: 100000", with: "length: 99999").write(
            toFile: forged, atomically: true, encoding: .utf8)
        let refused = try runSaatkond(
            ["restore"] + connect + [
                "--stream", Self.stream, "--output", "\(scratch.path)/f", "--expect-receipt", forged,
            ],
            scratch: scratch.path)
        #expect(refused.status != 0)
        #expect(refused.errors.contains("does not verify"), "\(refused.errors)")
    }

    /// Writes the original's first segment and a different second one through a store on a copy of the members,
    /// with the public key alone, and puts the copy's second-segment shards in place of the real ones.
    static func replaceSecondSegment(state: String, scratch: String, original: String) throws {
        let members = "\(state)/members"
        let copy = "\(scratch)/attacker-members"
        _ = try Command.run("cp", ["-a", members, copy])
        let names = try FileManager.default.contentsOfDirectory(atPath: copy).filter { $0.hasPrefix("disk-") }.sorted()
        for name in names {
            try? FileManager.default.removeItem(atPath: "\(copy)/\(name)/streams/\(stream)")
        }
        // The public key is all the attacker needs; the keys service writes it for anyone to read.
        let publicHex = try String(contentsOfFile: "\(state)/keys/storage.pub", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let store = try ErasureCodedStore(
            members: names.map { FilePath("\(copy)/\($0)") },
            keys: try StorageKeys(
                storagePublicKey: try X25519PublicKey(rawRepresentation: try #require(Hex.decode(publicHex))),
                segmentKeys: nil, journalKey: try CryptoRandom.secretBytes(count: 32)))
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: original)))
        for index in segmentBytes..<bytes.count { bytes[index] ^= 0x5A }
        let appender = try store.openAppender(for: try StreamName(stream))
        try bytes.withUnsafeBytes { try appender.append($0) }
        #expect(try appender.makeDurable() == UInt64(bytes.count))
        appender.close()
        let second = String(format: "segment-%016x.shard", 1)
        var replaced = 0
        for name in names where FileManager.default.fileExists(atPath: "\(copy)/\(name)/streams/\(stream)/\(second)") {
            let target = "\(members)/\(name)/streams/\(stream)/\(second)"
            try FileManager.default.removeItem(atPath: target)
            try FileManager.default.copyItem(atPath: "\(copy)/\(name)/streams/\(stream)/\(second)", toPath: target)
            replaced += 1
        }
        #expect(replaced == 11, "the replacement's shards were not all put in place")
    }
}
