import CryptoPrimitives
import DevelopmentIdentity
import ErasureStore
import Foundation
import StoreFormat
import SystemPackage
import TestSupport
import Testing

/// The network-facing receiver's key material stays out of everything a core dump or a reader of its memory gets:
/// the keys sit only in locked pages that are left out of core dumps (SecretBytes, libcrypto's secure heap), and
/// the process is not dumpable at all.
@Suite(
    "Key material in the receiver's memory", .serialized,
    .enabled(if: UnprivilegedUser.canSwitch && SaatkondExecutable.exists, "\(UnprivilegedUser.whyNot ?? "no saatkond")")
)
struct KeyMemoryTests {
    /// Also with RLIMIT_MEMLOCK at 0, as a unit without `LimitMEMLOCK` may leave it: the keys cannot be locked, the
    /// receiver says so, and they still stay out of its dumpable memory and its core.
    @Test(
        "after sends, journal records and a receipt, ingest's keys are nowhere in its dumpable memory or its core",
        arguments: [false, true])
    func keysOutsideDumpableMemory(lockingRefused: Bool) throws {
        let rig = try UnprivilegedTests.Rig()
        defer { rig.scratch.remove() }
        let user = UnprivilegedTests.receiver
        let home = rig.home(of: user)
        let identity = try DevelopmentIdentity.loadOrCreate(in: FilePath("\(home)/identity"))
        let geometry = try ArrayGeometry(dataShards: 2, parityShards: 1, memberCount: 3, shardBytes: 512 << 10)
        _ = try ErasureCodedStore.create(
            members: (0..<3).map { FilePath("\(home)/disk-\($0)") }, geometry: geometry)
        let storage = try X25519PrivateKey()
        let journalKey = try CryptoRandom.bytes(count: 32)
        // The hexadecimal form, so that the parsing path is the one searched too.
        try (Self.hex(journalKey) + "\n").write(toFile: "\(home)/journal.key", atomically: true, encoding: .utf8)
        // The signing key's file (PEM), its DER, and its private scalar, in both byte orders (OpenSSL takes
        // numbers in the machine's): each must stay out of dumpable memory, whichever decoder saw it.
        let signingPEM = try IngestTests.writeSigningKey(in: home).pemRepresentation.bytes
        let signingBody = String(decoding: signingPEM, as: UTF8.self).split(separator: "\n").dropFirst().dropLast()
        let signingDER = [UInt8](Data(base64Encoded: signingBody.joined())!)
        let signingScalar = Array(signingDER[36..<68])
        try Data(storage.publicKey.rawRepresentation).write(to: URL(fileURLWithPath: "\(home)/storage.pub"))
        try "development-sender append ee.\n".write(
            toFile: "\(home)/authorization.conf", atomically: true, encoding: .utf8)
        let port = try LoopbackPort.free()
        try IngestTests.configuration(home, port: port).write(
            toFile: "\(home)/ingest.conf", atomically: true, encoding: .utf8)
        try user.own(home)
        _ = try Command.run("chmod", ["-R", "go-rwx", home])

        let ingest = [rig.executable, "ingest", "--config", "\(home)/ingest.conf"]
        let command =
            lockingRefused
            ? user.command("/usr/bin/prlimit", ["--memlock=0:0", "--"] + ingest)
            : user.command(ingest[0], Array(ingest[1...]))
        let receiver = try ChildProcess(
            executable: command.executable, arguments: command.arguments,
            output: "\(rig.scratch.path)/ingest.out", errors: "\(rig.scratch.path)/ingest.err")
        defer { receiver.terminate() }
        try LoopbackPort.waitUntilListening(port, process: receiver)

        // Small sends (journal records, sealed with keys derived from the journal key) and a signed receipt.
        let client = try rig.clientIdentity(identity, for: UnprivilegedTests.sender)
        for index in 0..<3 {
            let input = "\(rig.home(of: UnprivilegedTests.sender))/part-\(index)"
            try writeRandomFile(input, count: 50_000)
            try UnprivilegedTests.sender.own(input)
            let sent = try runSaatkond(
                ["send", "--connect", "127.0.0.1:\(port)"] + client
                    + ["--stream", "ee.keys", "--receipt", "\(input).receipt", input],
                scratch: rig.scratch.path, user: UnprivilegedTests.sender, executable: rig.executable)
            #expect(sent.status == 0, "\(sent.errors)")
        }

        // Not dumpable: its /proc files belong to root, not to the user it runs as.
        let owner = try FileManager.default.attributesOfItem(atPath: "/proc/\(receiver.pid)/mem")[.ownerAccountID]
        #expect((owner as? NSNumber)?.uint32Value == 0, "the receiver is dumpable")
        let log = DevAppliance.read("\(rig.scratch.path)/ingest.err")
        #expect(!log.contains("non-dumpable"), "\(log)")
        if lockingRefused {
            #expect(log.contains("keys are not locked in memory"), "locking failed silently: \(log)")
            #expect(log.contains("secure heap is not locked"), "locking failed silently: \(log)")
        } else {
            #expect(!log.contains("not locked") && !log.contains("secure heap"), "\(log)")
        }

        let secrets = [
            ("journal key", journalKey), ("journal key as text", Array(Self.hex(journalKey).utf8)),
            ("signing key scalar", signingScalar),
            ("signing key scalar, little-endian", Array(signingScalar.reversed())),
            ("signing key DER", signingDER), ("signing key PEM line", Array(signingBody.first!.utf8)),
        ]
        let found = try Self.searchDumpableMemory(of: receiver.pid, for: secrets)
        #expect(found.isEmpty, "key material in dumpable memory: \(found)")

        if FileManager.default.isExecutableFile(atPath: "/usr/bin/gcore") {
            let core = "\(rig.scratch.path)/ingest.core"
            let written = "\(core).\(receiver.pid)"
            var failure = ""
            do {
                _ = try Command.run("gcore", ["-o", core, "\(receiver.pid)"])
            } catch {
                failure = "\(error)"
            }
            if FileManager.default.fileExists(atPath: written) {
                let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: written)))
                for (name, secret) in secrets {
                    #expect(Self.contains(bytes[...], secret) == false, "the \(name) is in the core file")
                }
            } else {
                Issue.record("gcore wrote no core file for process \(receiver.pid): \(failure)")
            }
        }
        receiver.send(SIGTERM)
        #expect(receiver.waitForExit(timeout: 20).map(exitCode(fromWaitStatus:)) == 0)
    }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    /// Which of `secrets` occur in the process's readable mappings that a core dump would include (those without
    /// the `dd` flag of MADV_DONTDUMP), with the mapping they are in.
    static func searchDumpableMemory(of pid: pid_t, for secrets: [(String, [UInt8])]) throws -> [String] {
        // Read to the end: procfs files have no size, and a read sized by it stops after the first page.
        let smaps = String(
            decoding: try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/\(pid)/smaps")).readToEnd() ?? Data(),
            as: UTF8.self)
        var regions: [(range: Range<UInt64>, name: String, readable: Bool, dumped: Bool)] = []
        for line in smaps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if let first = fields.first, first.contains("-"), fields.count >= 5, !first.hasSuffix(":") {
                let bounds = first.split(separator: "-").compactMap { UInt64($0, radix: 16) }
                guard bounds.count == 2 else { continue }
                let name = fields.count > 5 ? fields[5...].joined(separator: " ") : "[anonymous]"
                regions.append((bounds[0]..<bounds[1], name, fields[1].hasPrefix("r"), true))
            } else if line.hasPrefix("VmFlags:"), !regions.isEmpty {
                regions[regions.count - 1].dumped = !fields.contains("dd")
            }
        }
        let memory = open("/proc/\(pid)/mem", O_RDONLY)
        guard memory >= 0 else { throw TestSupportError("cannot open /proc/\(pid)/mem: errno \(errno)") }
        defer { close(memory) }
        var found: [String] = []
        for region in regions where region.readable && region.dumped && region.name != "[vvar]" {
            let count = Int(region.range.count)
            var bytes = [UInt8](repeating: 0, count: count)
            let read = bytes.withUnsafeMutableBytes {
                pread(memory, $0.baseAddress, count, off_t(region.range.lowerBound))
            }
            guard read > 0 else { continue }
            for (name, secret) in secrets where contains(bytes[..<read], secret) {
                found.append("\(name) in \(region.name) at \(String(region.range.lowerBound, radix: 16))")
            }
        }
        return found
    }

    /// memmem is hidden behind _GNU_SOURCE; memchr for the first byte and memcmp for the rest are fast enough for
    /// a few hundred MiB.
    static func contains(_ haystack: ArraySlice<UInt8>, _ needle: [UInt8]) -> Bool {
        haystack.withUnsafeBytes { hay in
            needle.withUnsafeBytes { pattern in
                guard let start = hay.baseAddress, let first = pattern.first, hay.count >= pattern.count else {
                    return false
                }
                var offset = 0
                let last = hay.count - pattern.count
                while offset <= last {
                    guard let hit = memchr(start + offset, Int32(first), last - offset + 1) else { return false }
                    let position = UnsafeRawPointer(hit) - start
                    if memcmp(hit, pattern.baseAddress!, pattern.count) == 0 { return true }
                    offset = position + 1
                }
                return false
            }
        }
    }
}
