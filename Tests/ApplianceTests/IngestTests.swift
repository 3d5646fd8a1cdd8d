import Appliance
import CryptoPrimitives
import DevelopmentIdentity
import ErasureStore
import Foundation
import StoreFormat
import SystemPackage
import TestSupport
import Testing

@Suite("saatkond ingest")
struct IngestTests {
    static func configuration(_ scratch: String, port: Int, extra: String = "") -> String {
        """
        # test receiver
        listen = 127.0.0.1:\(port)
        certificate = \(scratch)/identity/appliance.pem
        private-key = \(scratch)/identity/appliance-key.pem
        home-ca = \(scratch)/identity/development-ca.pem
        policy = \(scratch)/authorization.conf
        member = \(scratch)/disk-2
        member = \(scratch)/disk-0
        member = \(scratch)/disk-1
        storage-public-key = \(scratch)/storage.pub
        journal-key = \(scratch)/journal.key
        signing-key = \(scratch)/signing-key.pem
        appliance-name = test-embassy
        \(extra)
        """
    }

    /// Writes a new receipt-signing key (P-256, PKCS#8 PEM) where ``configuration(_:port:extra:)`` names it, and
    /// returns it.
    @discardableResult
    static func writeSigningKey(in directory: String) throws -> P256PrivateKey {
        let key = try P256PrivateKey()
        try Data(try key.pemRepresentation.bytes).write(to: URL(fileURLWithPath: "\(directory)/signing-key.pem"))
        return key
    }

    @Test(
        "configuration mistakes name the file and line",
        arguments: [
            ("listen 1", "c:1: expected `key = value`"),
            ("\nlisten = x", "c:2: listen must be HOST:PORT"),
            ("colour = blue", "c:1: unknown key 'colour'"),
            ("listen = a:1\nlisten = b:2", "c:2: 'listen' is already set on line 1"),
            ("listen = a:1", "c: 'certificate' is missing"),
            ("policy =", "c:1: 'policy' has no value"),
            ("storage-private-key = /k", "c:1: 'storage-private-key' is no longer accepted"),
            ("metrics-reader-uid = health", "c:1: 'metrics-reader-uid' must be a numeric user id"),
            ("metrics-socket = /a\nmetrics-socket = /b", "c:2: 'metrics-socket' is already set on line 1"),
        ])
    func mistakes(text: String, expected: String) {
        do {
            _ = try IngestConfiguration(parsing: text, file: "c")
            Issue.record("accepted \(text.debugDescription)")
        } catch {
            #expect(error.description.hasPrefix(expected) || error.description.contains(expected), "\(error)")
        }
    }

    @Test("a complete configuration parses, members in any order")
    func complete() throws {
        let parsed = try IngestConfiguration(parsing: Self.configuration("/s", port: 7443), file: "c")
        #expect(parsed.port == 7443)
        #expect(parsed.members == ["/s/disk-2", "/s/disk-0", "/s/disk-1"])
        #expect(parsed.denyList == nil)
        let withMetrics = try IngestConfiguration(
            parsing: Self.configuration("/s", port: 7443)
                + "\nmetrics-socket = /run/m.sock\nmetrics-reader-uid = 993\nmetrics-reader-uid = 994",
            file: "c")
        #expect(withMetrics.metricsSocket == "/run/m.sock" && withMetrics.metricsReaderUIDs == [993, 994])
    }

    @Test(
        "the receiver runs from its configuration: a send lands, and a broken policy stops it with file and line",
        .enabled(if: SaatkondExecutable.exists))
    func endToEnd() throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-ingest")
        defer { scratch.remove() }
        let identity = try DevelopmentIdentity.loadOrCreate(in: FilePath("\(scratch.path)/identity"))
        let geometry = try ArrayGeometry(dataShards: 2, parityShards: 1, memberCount: 3, shardBytes: 512 << 10)
        _ = try ErasureCodedStore.create(
            members: (0..<3).map { FilePath("\(scratch.path)/disk-\($0)") }, geometry: geometry)
        let storage = try X25519PrivateKey()
        try Data(storage.publicKey.rawRepresentation).write(to: URL(fileURLWithPath: "\(scratch.path)/storage.pub"))
        try Data(try CryptoRandom.bytes(count: 32)).write(to: URL(fileURLWithPath: "\(scratch.path)/journal.key"))
        try Self.writeSigningKey(in: scratch.path)
        try "development-sender append ee.\n".write(
            toFile: "\(scratch.path)/authorization.conf", atomically: true, encoding: .utf8)
        let port = try LoopbackPort.free()
        try Self.configuration(scratch.path, port: port).write(
            toFile: "\(scratch.path)/ingest.conf", atomically: true, encoding: .utf8)

        let receiver = try ChildProcess(
            executable: SaatkondExecutable.path, arguments: ["ingest", "--config", "\(scratch.path)/ingest.conf"],
            output: "\(scratch.path)/ingest.out", errors: "\(scratch.path)/ingest.err")
        defer { receiver.terminate() }
        try LoopbackPort.waitUntilListening(port, process: receiver)
        try writeRandomFile("\(scratch.path)/input", count: 3_000_000)
        let sent = try runSaatkond(
            [
                "send", "--connect", "127.0.0.1:\(port)", "--ca", identity.authorityCertificate.string, "--cert",
                identity.senderCertificate.string, "--key", identity.senderKey.string, "--stream", "ee.ingest",
                "\(scratch.path)/input",
            ],
            scratch: scratch.path)
        #expect(sent.status == 0, "\(sent.errors)")
        receiver.send(SIGTERM)
        #expect(receiver.waitForExit(timeout: 20).map(exitCode(fromWaitStatus:)) == 0)
        // What was sent is on the members: read it with the private key, as home would after recovering it.
        let store = try ErasureCodedStore(
            members: (0..<3).map { FilePath("\(scratch.path)/disk-\($0)") },
            keys: try StorageKeys(
                storagePublicKey: storage.publicKey, storagePrivateKey: storage,
                journalKey: SecretBytes(
                    [UInt8](try Data(contentsOf: URL(fileURLWithPath: "\(scratch.path)/journal.key"))))))
        let reader = try store.openReader(for: try .init("ee.ingest"))
        var restored = [UInt8](repeating: 0, count: Int(reader.length))
        _ = try restored.withUnsafeMutableBytes { try reader.read(at: 0, into: $0) }
        #expect(restored == [UInt8](try Data(contentsOf: URL(fileURLWithPath: "\(scratch.path)/input"))))

        try "development-sender apend ee.\n".write(
            toFile: "\(scratch.path)/authorization.conf", atomically: true, encoding: .utf8)
        let broken = try runSaatkond(["ingest", "--config", "\(scratch.path)/ingest.conf"], scratch: scratch.path)
        #expect(broken.status != 0)
        #expect(broken.errors.contains("authorization.conf:1: unknown operation 'apend'"), "\(broken.errors)")
    }
}
