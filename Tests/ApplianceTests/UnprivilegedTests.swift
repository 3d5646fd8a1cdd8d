import Appliance
import CryptoPrimitives
import DevelopmentIdentity
import ErasureStore
import Foundation
import StoreFormat
import SystemPackage
import TestSupport
import Testing

/// Every service and client as the user it will run as: the receiver under its own uid with the unit's hardening,
/// the sender as another ordinary user (PostgreSQL's `archive_command` runs as `postgres`), the restore and the
/// receipt check as a third. As root the same tests would pass whatever needed privileges; these cannot.
@Suite(
    "Services and clients as unprivileged users", .serialized,
    .enabled(if: UnprivilegedUser.canSwitch && SaatkondExecutable.exists, "\(UnprivilegedUser.whyNot ?? "no saatkond")")
)
struct UnprivilegedTests {
    static let receiver = UnprivilegedUser(id: 61_001)
    static let sender = UnprivilegedUser(id: 61_002)
    static let restorer = UnprivilegedUser(id: 61_003)

    /// A scratch directory every user may enter, with a copy of `saatkond` they may all run (the build folder may
    /// sit where they cannot reach it), and a home directory for each user that only that user may read.
    struct Rig {
        let scratch: ScratchDirectory
        let executable: String

        init() throws {
            scratch = try ScratchDirectory(prefix: "saatkond-unprivileged")
            do {
                _ = try Command.run("chmod", ["0755", scratch.path])
                executable = "\(scratch.path)/saatkond"
                _ = try Command.run("install", ["-m", "0755", SaatkondExecutable.path, executable])
                for user in [receiver, sender, restorer] {
                    let home = self.home(of: user)
                    try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: false)
                    _ = try Command.run("chmod", ["0700", home])
                    try user.own(home)
                }
            } catch {
                scratch.remove()
                throw error
            }
        }

        func home(of user: UnprivilegedUser) -> String { "\(scratch.path)/home-\(user.id)" }

        /// Gives `user` its own copy of the CA, the development sender's certificate and key: the client options
        /// that reach the appliance as that user.
        func clientIdentity(_ identity: DevelopmentIdentity, for user: UnprivilegedUser) throws -> [String] {
            let home = home(of: user)
            return [
                "--ca", try user.copy(identity.authorityCertificate.string, into: home),
                "--cert", try user.copy(identity.senderCertificate.string, into: home),
                "--key", try user.copy(identity.senderKey.string, into: home),
            ]
        }

        /// Checks that process `pid` runs as `user` with no capability and no way to gain one.
        func expectUnprivileged(_ pid: pid_t, as user: UnprivilegedUser) throws {
            // The unit's hardening as setpriv applies it: its own uid and gid everywhere, no supplementary group, no
            // capability in any set that could give one back.
            let credentials = try UnprivilegedUser.credentials(of: pid)
            #expect(credentials.uids == Array(repeating: user.id, count: 4), "\(credentials)")
            #expect(credentials.gids == Array(repeating: user.id, count: 4), "\(credentials)")
            #expect(credentials.groups.isEmpty, "\(credentials)")
            #expect(credentials.effectiveCapabilities == 0, "\(credentials)")
            #expect(credentials.inheritableCapabilities == 0, "\(credentials)")
            #expect(credentials.boundingCapabilities == 0, "\(credentials)")
            #expect(credentials.noNewPrivileges)
        }
    }

    @Test("saatkond dev as one user takes a send from a second; a third restores it identical and checks the receipt")
    func developmentAppliance() throws {
        let rig = try Rig()
        defer { rig.scratch.remove() }
        let state = "\(rig.home(of: Self.receiver))/state"
        let appliance = try DevAppliance(
            state: state, logs: rig.scratch.path, user: Self.receiver, executable: rig.executable)
        defer { _ = appliance.stop() }
        try rig.expectUnprivileged(appliance.pid, as: Self.receiver)
        let identity = DevelopmentIdentity(directory: FilePath("\(state)/identity"))
        let connect = ["--connect", "127.0.0.1:\(appliance.port)"]

        let input = "\(rig.home(of: Self.sender))/wal.bin"
        try writeRandomFile(input, count: 5_000_000)
        try Self.sender.own(input)
        let receipt = "\(rig.home(of: Self.sender))/wal.receipt"
        let sent = try runSaatkond(
            ["send"] + connect + (try rig.clientIdentity(identity, for: Self.sender))
                + ["--stream", "ee.unprivileged.wal", "--receipt", receipt, input],
            scratch: rig.scratch.path, user: Self.sender, executable: rig.executable)
        #expect(sent.status == 0, "send as uid \(Self.sender.id) failed: \(sent.errors)")

        let restorerHome = rig.home(of: Self.restorer)
        let keptReceipt = try Self.restorer.copy(receipt, into: restorerHome)
        let publicKey = try Self.restorer.copy(
            "\(state)/keys/signing.pem", into: restorerHome)
        let output = "\(restorerHome)/restored.bin"
        let restored = try runSaatkond(
            ["restore"] + connect + (try rig.clientIdentity(identity, for: Self.restorer))
                + [
                    "--stream", "ee.unprivileged.wal", "--output", output, "--expect-receipt", keptReceipt,
                    "--public-key", publicKey,
                ],
            scratch: rig.scratch.path, user: Self.restorer, executable: rig.executable)
        #expect(restored.status == 0, "restore as uid \(Self.restorer.id) failed: \(restored.errors)")
        #expect(sameBytes(input, output))
        let owner = try FileManager.default.attributesOfItem(atPath: output)[.ownerAccountID] as? NSNumber
        #expect(owner?.uint32Value == Self.restorer.id, "the restore did not run as its user")

        let verified = try runSaatkond(
            ["verify", keptReceipt, "--public-key", publicKey, "--file", output, "--stream", "ee.unprivileged.wal"],
            scratch: rig.scratch.path, user: Self.restorer, executable: rig.executable)
        #expect(verified.status == 0, "verify as uid \(Self.restorer.id) failed: \(verified.errors)")
        #expect(appliance.stop() == 0, "the appliance did not stop cleanly: \(appliance.errors)")
    }

    @Test("saatkond ingest under its unit's user and hardening accepts a send made by another user")
    func productionReceiver() throws {
        let rig = try Rig()
        defer { rig.scratch.remove() }
        let home = rig.home(of: Self.receiver)
        let identity = try DevelopmentIdentity.loadOrCreate(in: FilePath("\(home)/identity"))
        let geometry = try ArrayGeometry(dataShards: 2, parityShards: 1, memberCount: 3, shardBytes: 512 << 10)
        let members = (0..<3).map { FilePath("\(home)/disk-\($0)") }
        _ = try ErasureCodedStore.create(members: members, geometry: geometry)
        let storage = try X25519PrivateKey()
        let journalKey = try CryptoRandom.bytes(count: 32)
        try Data(storage.publicKey.rawRepresentation).write(to: URL(fileURLWithPath: "\(home)/storage.pub"))
        try Data(journalKey).write(to: URL(fileURLWithPath: "\(home)/journal.key"))
        try IngestTests.writeSigningKey(in: home)
        try "development-sender append ee.\n".write(
            toFile: "\(home)/authorization.conf", atomically: true, encoding: .utf8)
        let port = try LoopbackPort.free()
        try IngestTests.configuration(home, port: port).write(
            toFile: "\(home)/ingest.conf", atomically: true, encoding: .utf8)
        try Self.receiver.own(home)
        _ = try Command.run("chmod", ["-R", "go-rwx", home])

        let command = Self.receiver.command(rig.executable, ["ingest", "--config", "\(home)/ingest.conf"])
        let receiver = try ChildProcess(
            executable: command.executable, arguments: command.arguments,
            output: "\(rig.scratch.path)/ingest.out", errors: "\(rig.scratch.path)/ingest.err")
        defer { receiver.terminate() }
        try LoopbackPort.waitUntilListening(port, process: receiver)
        try rig.expectUnprivileged(receiver.pid, as: Self.receiver)

        let input = "\(rig.home(of: Self.sender))/dump.bin"
        try writeRandomFile(input, count: 3_000_000)
        try Self.sender.own(input)
        let sent = try runSaatkond(
            ["send", "--connect", "127.0.0.1:\(port)"] + (try rig.clientIdentity(identity, for: Self.sender))
                + ["--stream", "ee.ingest", input],
            scratch: rig.scratch.path, user: Self.sender, executable: rig.executable)
        #expect(sent.status == 0, "send as uid \(Self.sender.id) failed: \(sent.errors)")
        receiver.send(SIGTERM)
        #expect(receiver.waitForExit(timeout: 20).map(exitCode(fromWaitStatus:)) == 0)

        // What the receiver stored as its own user is whole: read it with the private key, as home would.
        let store = try ErasureCodedStore(
            members: members,
            keys: try StorageKeys(
                storagePublicKey: storage.publicKey, storagePrivateKey: storage, journalKey: SecretBytes(journalKey)))
        let reader = try store.openReader(for: try .init("ee.ingest"))
        var restored = [UInt8](repeating: 0, count: Int(reader.length))
        _ = try restored.withUnsafeMutableBytes { try reader.read(at: 0, into: $0) }
        #expect(restored == [UInt8](try Data(contentsOf: URL(fileURLWithPath: input))))
    }
}
