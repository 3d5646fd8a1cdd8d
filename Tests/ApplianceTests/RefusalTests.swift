import DevelopmentIdentity
import Foundation
import SystemPackage
import TestSupport
import Testing

/// What the appliance must refuse, and how the refusal reads to the person at the sender.
@Suite("Refusals", .enabled(if: SaatkondExecutable.exists))
struct RefusalTests {
    @Test("a sender whose certificate comes from another CA is refused with a clear message, and nothing is stored")
    func foreignCertificateAuthority() throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-foreign")
        defer { scratch.remove() }
        let state = "\(scratch.path)/state"
        let appliance = try DevAppliance(state: state, logs: scratch.path)
        defer { _ = appliance.stop() }
        let foreign = try DevelopmentIdentity.loadOrCreate(in: FilePath("\(scratch.path)/foreign"))
        let ours = DevelopmentIdentity(directory: FilePath("\(state)/identity"))
        let input = "\(scratch.path)/input.bin"
        try writeRandomFile(input, count: 4096)

        let result = try runSaatkond(
            [
                "send", "--connect", "127.0.0.1:\(appliance.port)", "--ca", ours.authorityCertificate.string,
                "--cert", foreign.senderCertificate.string, "--key", foreign.senderKey.string,
                "--stream", "ee.population.wal", input,
            ],
            scratch: scratch.path)
        #expect(result.status != 0)
        #expect(result.errors.contains("TLS handshake"), "\(result.errors)")
        #expect(result.errors.contains("trusts the CA that issued this sender's certificate"), "\(result.errors)")
        #expect(Self.storedStreams(state).isEmpty, "a refused sender left \(Self.storedStreams(state))")
    }

    @Test("a sender that does not trust the appliance's CA refuses to talk to it")
    func unknownApplianceAuthority() throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-mitm")
        defer { scratch.remove() }
        let state = "\(scratch.path)/state"
        let appliance = try DevAppliance(state: state, logs: scratch.path)
        defer { _ = appliance.stop() }
        let foreign = try DevelopmentIdentity.loadOrCreate(in: FilePath("\(scratch.path)/foreign"))
        let ours = DevelopmentIdentity(directory: FilePath("\(state)/identity"))
        let input = "\(scratch.path)/input.bin"
        try writeRandomFile(input, count: 10)
        let result = try runSaatkond(
            [
                "send", "--connect", "127.0.0.1:\(appliance.port)", "--ca", foreign.authorityCertificate.string,
                "--cert", ours.senderCertificate.string, "--key", ours.senderKey.string, "--stream", "ee.a", input,
            ],
            scratch: scratch.path)
        #expect(result.status != 0)
        #expect(result.errors.contains("TLS handshake"), "\(result.errors)")
    }

    @Test("the authorization policy decides: append only under granted prefixes, read only when granted")
    func authorizationPolicy() throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-policy")
        defer { scratch.remove() }
        let state = "\(scratch.path)/state"
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        try "development-sender append ee.allowed.\n".write(
            toFile: "\(state)/authorization.conf", atomically: true, encoding: .utf8)
        let appliance = try DevAppliance(state: state, logs: scratch.path)
        defer { _ = appliance.stop() }
        let input = "\(scratch.path)/input.bin"
        try writeRandomFile(input, count: 1000)
        let connect = ["--state", state, "--connect", "127.0.0.1:\(appliance.port)"]

        let allowed = try runSaatkond(
            ["send"] + connect + ["--stream", "ee.allowed.wal", input], scratch: scratch.path)
        #expect(allowed.status == 0, "\(allowed.errors)")
        #expect(Self.storedStreams(state) == ["ee.allowed.wal"])
        let other = try runSaatkond(["send"] + connect + ["--stream", "ee.other.wal", input], scratch: scratch.path)
        #expect(other.status != 0)
        #expect(other.errors.contains("not-authorized"), "\(other.errors)")
        #expect(other.errors.contains("'development-sender' may not append stream ee.other.wal"), "\(other.errors)")
        let read = try runSaatkond(
            ["restore"] + connect + ["--stream", "ee.allowed.wal", "--output", "\(scratch.path)/out"],
            scratch: scratch.path)
        #expect(read.status != 0)
        #expect(read.errors.contains("may not read"), "\(read.errors)")
        #expect(Self.storedStreams(state) == ["ee.allowed.wal"], "a refused append left its stream")
    }

    @Test(
        "a bad stream name is refused with the naming rule",
        arguments: ["../../etc/passwd", "under_score.", "a..b", ".hidden"])
    func badStreamName(name: String) throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-badname")
        defer { scratch.remove() }
        let state = "\(scratch.path)/state"
        let appliance = try DevAppliance(state: state, logs: scratch.path)
        defer { _ = appliance.stop() }
        let input = "\(scratch.path)/input.bin"
        try writeRandomFile(input, count: 10)
        let result = try runSaatkond(
            ["send", "--state", state, "--connect", "127.0.0.1:\(appliance.port)", "--stream", name, input],
            scratch: scratch.path)
        #expect(result.status != 0)
        #expect(result.errors.contains("invalid-stream-name"), "\(result.errors)")
        #expect(result.errors.contains("a-z, 0-9"), "\(result.errors)")
        #expect(Self.storedStreams(state).isEmpty, "a refused name left \(Self.storedStreams(state))")
    }

    /// The streams that have anything on any member of the development array: each has a directory of its own under
    /// `members/disk-NN/streams` on every member it touched.
    static func storedStreams(_ state: String) -> Set<String> {
        let members = "\(state)/members"
        let disks = (try? FileManager.default.contentsOfDirectory(atPath: members)) ?? []
        return Set(
            disks.flatMap { disk in
                (try? FileManager.default.contentsOfDirectory(atPath: "\(members)/\(disk)/streams")) ?? []
            })
    }
}
