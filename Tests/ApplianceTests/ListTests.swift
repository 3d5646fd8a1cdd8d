import DevelopmentIdentity
import Foundation
import SystemPackage
import TestSupport
import Testing

/// `saatkond list` against the development appliance, as a reader whose grant covers one prefix only; as root, the
/// reader runs as an unprivileged user of its own, as it would at home.
@Suite("Listing through the development appliance", .enabled(if: SaatkondExecutable.exists))
struct ListTests {
    static let reader = UnprivilegedUser(id: 61_004)

    @Test("a reader with a grant on ee.pop sees exactly the ee.pop streams, with their lengths and heads")
    func readerSeesOnlyItsPrefix() throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-list")
        defer { scratch.remove() }
        let state = "\(scratch.path)/state"
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        // The development identity appends everywhere under ee. but reads only ee.pop.
        try "development-sender append ee.\ndevelopment-sender read ee.pop\n".write(
            toFile: "\(state)/authorization.conf", atomically: true, encoding: .utf8)
        let appliance = try DevAppliance(state: state, logs: scratch.path)
        defer { _ = appliance.stop() }
        let connect = ["--connect", "127.0.0.1:\(appliance.port)"]

        var receipts: [String: (length: String, head: String)] = [:]
        for (stream, size) in [("ee.pop.wal", 3_000), ("ee.pop.base", 70_000), ("ee.land.x", 10)] {
            let input = "\(scratch.path)/\(stream).bin"
            try writeRandomFile(input, count: size)
            let receipt = "\(scratch.path)/\(stream).receipt"
            let sent = try runSaatkond(
                ["send", "--state", state] + connect + ["--stream", stream, "--receipt", receipt, input],
                scratch: scratch.path)
            #expect(sent.status == 0, "send \(stream) failed: \(sent.errors)")
            let fields = try Self.fields(ofReceipt: receipt)
            receipts[stream] = (try #require(fields["length"]), try #require(fields["head"]))
        }
        #expect(receipts["ee.pop.wal"]?.length == "3000")

        let reader = try Reader(scratch: scratch, state: state)
        let listed = try reader.run(["list"] + connect)
        #expect(listed.status == 0, "\(listed.errors)")
        let lines = listed.output.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        #expect(lines.map { $0.first ?? "" } == ["ee.pop.base", "ee.pop.wal"], "\(listed.output)")
        for line in lines where line.count == 4 {
            #expect(line[1] == receipts[line[0]]?.length, "\(line)")
            #expect(line[2] == receipts[line[0]]?.head, "\(line)")
            #expect(ISO8601DateFormatter.withMilliseconds.date(from: line[3]) != nil, "\(line)")
        }
        #expect(lines.allSatisfy { $0.count == 4 }, "\(listed.output)")

        let land = try reader.run(["list"] + connect + ["ee.land"])
        #expect(land.status == 0, "\(land.errors)")
        #expect(land.output.isEmpty, "\(land.output)")
        let one = try reader.run(["list"] + connect + ["ee.pop.wal"])
        #expect(one.output.split(separator: "\n").map { $0.prefix { $0 != " " } } == ["ee.pop.wal"])

        let json = try reader.run(["list", "--json"] + connect)
        #expect(json.status == 0, "\(json.errors)")
        let array = try #require(
            try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [[String: Any]], "\(json.output)")
        #expect(array.map { $0["stream"] as? String } == ["ee.pop.base", "ee.pop.wal"])
        for object in array {
            let stream = try #require(object["stream"] as? String)
            #expect((object["length"] as? NSNumber)?.stringValue == receipts[stream]?.length)
            #expect(object["head"] as? String == receipts[stream]?.head)
            let lastAppend = try #require(object["lastAppend"] as? String)
            let time = try #require(ISO8601DateFormatter.withMilliseconds.date(from: lastAppend))
            #expect(abs(time.timeIntervalSinceNow) < 600, "\(lastAppend)")
        }
        let emptyJSON = try reader.run(["list", "--json"] + connect + ["ee.land"])
        #expect(emptyJSON.status == 0 && emptyJSON.output == "[]\n", "\(emptyJSON.output) \(emptyJSON.errors)")
    }

    @Test("a certificate without a read grant may not list; a prefix that is not a grant prefix is refused")
    func refusals() throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-list-refused")
        defer { scratch.remove() }
        let state = "\(scratch.path)/state"
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        try "development-sender append ee.\n".write(
            toFile: "\(state)/authorization.conf", atomically: true, encoding: .utf8)
        let appliance = try DevAppliance(state: state, logs: scratch.path)
        defer { _ = appliance.stop() }
        let connect = ["--state", state, "--connect", "127.0.0.1:\(appliance.port)"]
        let refused = try runSaatkond(["list"] + connect, scratch: scratch.path)
        #expect(refused.status != 0)
        #expect(refused.errors.contains("not-authorized"), "\(refused.errors)")
        #expect(refused.output.isEmpty)
        let badPrefix = try runSaatkond(["list"] + connect + ["../ee"], scratch: scratch.path)
        #expect(badPrefix.status != 0)
        #expect(badPrefix.errors.contains("invalid-stream-name"), "\(badPrefix.errors)")
    }

    /// The receipt's `name: value` lines.
    static func fields(ofReceipt path: String) throws -> [String: String] {
        var fields: [String: String] = [:]
        for line in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2 { fields[String(parts[0])] = parts[1].trimmingCharacters(in: .whitespaces) }
        }
        return fields
    }

    /// Runs `saatkond` as the reader: as root, an unprivileged user with its own copy of the executable and of the
    /// development identity; otherwise this user with the state directory's identity.
    struct Reader {
        let scratch: ScratchDirectory
        let identity: [String]
        let user: UnprivilegedUser?
        let executable: String

        init(scratch: ScratchDirectory, state: String) throws {
            self.scratch = scratch
            guard UnprivilegedUser.canSwitch else {
                (identity, user, executable) = (["--state", state], nil, SaatkondExecutable.path)
                return
            }
            let user = ListTests.reader
            _ = try Command.run("chmod", ["0755", scratch.path])
            executable = "\(scratch.path)/saatkond-copy"
            _ = try Command.run("install", ["-m", "0755", SaatkondExecutable.path, executable])
            let home = "\(scratch.path)/home-\(user.id)"
            try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: false)
            _ = try Command.run("chmod", ["0700", home])
            try user.own(home)
            let files = DevelopmentIdentity(directory: FilePath("\(state)/identity"))
            identity = [
                "--ca", try user.copy(files.authorityCertificate.string, into: home),
                "--cert", try user.copy(files.senderCertificate.string, into: home),
                "--key", try user.copy(files.senderKey.string, into: home),
            ]
            self.user = user
        }

        func run(_ arguments: [String]) throws -> CommandResult {
            try runSaatkond(
                arguments + identity, scratch: scratch.path, timeout: 60, user: user, executable: executable)
        }
    }
}

extension ISO8601DateFormatter {
    /// ISO-8601 with milliseconds, as `saatkond list` prints times.
    static var withMilliseconds: ISO8601DateFormatter {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }
}
