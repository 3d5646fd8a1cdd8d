import Foundation
import HashChain
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Escrow and zeroization through the development appliance, over a real swtpm (`saatkond dev --tcti`).
@Suite(
    "Escrow and zeroization through the development appliance", .serialized,
    .enabled(if: SaatkondExecutable.exists && SoftwareTPM.isInstalled, SoftwareTPM.missingMessage))
struct KeysEscrowApplianceTests {
    typealias Rig = KeysApplianceTests.Rig

    @Test("the TPM's state gone: every 2 of 3 shares recover the keys, and the members alone restore every stream")
    func escrowRecovers() throws {
        let rig = try Rig()
        defer { rig.remove() }
        let streams = ["ee.population.wal", "ee.land.dump"]
        for stream in streams {
            try writeRandomFile("\(rig.scratch.path)/\(stream)", count: KeysApplianceTests.streamBytes)
        }
        do {
            let appliance = try rig.start()
            for stream in streams {
                #expect(try rig.send(stream, "\(rig.scratch.path)/\(stream)", to: appliance).status == 0)
            }
            #expect(appliance.stop() == 0)
        }
        // The appliance is lost: its TPM with it.
        rig.tpm.stop()
        let bundle = "\(rig.keys)/escrow.bundle"
        var shares: [String] = []
        for official in 1...3 {
            let share = "\(rig.scratch.path)/share-\(official)"
            let opened = try runSaatkond(
                [
                    "keys", "open-share", "--bundle", bundle, "--official", "official-\(official)", "--key",
                    "\(rig.keys)/home/official-\(official).key", "--output", share,
                ], scratch: rig.scratch.path)
            #expect(opened.status == 0, "\(opened.errors)")
            shares.append(share)
        }
        var recovered: [String] = []
        for (a, b) in [(0, 1), (0, 2), (1, 2)] {
            let keys = "\(rig.scratch.path)/recovered-\(a)\(b)"
            let result = try runSaatkond(
                ["keys", "recover", "--bundle", bundle, "--share", shares[a], "--share", shares[b], "--output", keys],
                scratch: rig.scratch.path)
            #expect(result.status == 0, "\(result.errors)")
            recovered.append(keys)
            for stream in streams {
                let output = "\(rig.scratch.path)/\(stream).from-\(a)\(b)"
                let restored = try runSaatkond(
                    [
                        "restore", "--members", "\(rig.state)/members", "--keys", keys, "--stream", stream, "--output",
                        output,
                    ], scratch: rig.scratch.path)
                #expect(restored.status == 0, "\(restored.errors)")
                #expect(sameBytes("\(rig.scratch.path)/\(stream)", output))
            }
        }
        let one = try runSaatkond(
            ["keys", "recover", "--bundle", bundle, "--share", shares[0], "--output", "\(rig.scratch.path)/one"],
            scratch: rig.scratch.path)
        #expect(one.status != 0)
        #expect(!FileManager.default.fileExists(atPath: "\(rig.scratch.path)/one/storage-private-key"))

        // No key bytes in anything the appliance wrote (the sealed blobs and the escrow bundle hold them only
        // encrypted), nor in its logs.
        let secrets = try ["storage-private-key", "journal-key"].map { name -> [UInt8] in
            let hex = try String(contentsOfFile: "\(recovered[0])/\(name)", encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            return try #require(Hex.decode(hex))
        }
        let found =
            try Self.filesHolding(secrets, under: rig.state)
            + Self.filesHolding(
                secrets, under: rig.scratch.path, only: { $0.hasSuffix(".out") || $0.hasSuffix(".err") })
        #expect(found.isEmpty, "key bytes found in \(found)")
    }

    @Test("the chassis opened: zeroized within a poll, restores refused, and a restart stays so")
    func intrusionZeroizes() throws {
        let rig = try Rig()
        defer { rig.remove() }
        let input = "\(rig.scratch.path)/input.bin"
        try writeRandomFile(input, count: KeysApplianceTests.streamBytes)
        do {
            let appliance = try rig.start()
            #expect(try rig.send("ee.first", input, to: appliance).status == 0)
            try "1\n".write(toFile: "\(rig.state)/chassis-intrusion", atomically: true, encoding: .utf8)
            var state = ""
            for _ in 0..<100 where !state.contains("state: zeroized") {
                usleep(50_000)
                state = try rig.keysState()
            }
            #expect(state.contains("state: zeroized"), "\(state)")
            let refused = try rig.restore("ee.first", from: appliance, to: "\(rig.scratch.path)/refused.bin")
            #expect(refused.status != 0)
            #expect(refused.errors.contains("zeroized"), "\(refused.errors)")
            _ = appliance.stop()
        }
        #expect(!FileManager.default.fileExists(atPath: "\(rig.keys)/storage.sealed"))
        let restarted = try runSaatkond(
            ["dev", "--state", rig.state, "--listen", "127.0.0.1:0", "--tcti", rig.tpm.tcti], scratch: rig.scratch.path,
            timeout: 60)
        #expect(restarted.status != 0)
        #expect(restarted.errors.contains("zeroized"), "\(restarted.errors)")
    }

    @Test("a service that holds keys leaves no core dump, where a dumpable process in the same place does")
    func noCoreDump() throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-core")
        defer { scratch.remove() }
        let pattern = (try? String(contentsOfFile: "/proc/sys/kernel/core_pattern", encoding: .utf8)) ?? ""
        try #require(
            pattern.trimmingCharacters(in: .whitespacesAndNewlines).hasPrefix("core"),
            "core_pattern is '\(pattern)': cores do not land in the process's directory here, so this cannot be seen")
        func crash(_ command: String, in directory: String) throws -> [String] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let child = try ChildProcess(
                executable: "/bin/sh",
                arguments: ["-c", "cd '\(directory)' && ulimit -c unlimited && exec \(command)"],
                output: "\(scratch.path)/\(UUID().uuidString).out")
            // Past its start, keys in memory: dev's keys socket exists once its keys are unsealed.
            for _ in 0..<600 where !command.hasPrefix("sleep") {
                if FileManager.default.fileExists(atPath: "\(directory)/state/keys.sock") { break }
                usleep(50_000)
            }
            usleep(300_000)
            child.send(SIGSEGV)
            _ = child.waitForExit(timeout: 30)
            return try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix("core") }
        }
        let control = try crash("sleep 60", in: "\(scratch.path)/control")
        try #require(
            !control.isEmpty, "a dumpable process left no core here either: core dumps are off on this machine")
        let dev = try crash(
            "'\(SaatkondExecutable.path)' dev --state '\(scratch.path)/dev/state' --listen 127.0.0.1:0",
            in: "\(scratch.path)/dev")
        #expect(dev.isEmpty, "saatkond dev left a core dump: \(dev)")
    }

    /// The files under `directory` (those `only` admits) whose bytes contain any secret, raw or in hexadecimal.
    static func filesHolding(
        _ secrets: [[UInt8]], under directory: String, only: (String) -> Bool = { _ in true }
    )
        throws -> [String]
    {
        let needles = secrets.flatMap { [$0, Array(Hex.encode($0).utf8), Array(Hex.encode($0).uppercased().utf8)] }
        var found: [String] = []
        guard let walker = FileManager.default.enumerator(atPath: directory) else { return [] }
        for case let relative as String in walker where only(relative) {
            let path = "\(directory)/\(relative)"
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
                let data = FileManager.default.contents(atPath: path)
            else { continue }
            if needles.contains(where: { data.range(of: Data($0)) != nil }) { found.append(relative) }
        }
        return found
    }
}
