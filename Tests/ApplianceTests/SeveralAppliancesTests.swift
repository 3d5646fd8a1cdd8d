import DevelopmentIdentity
import Foundation
import TestSupport
import Testing

/// Home sends every stream to two embassies at once: one that stops never holds up the other, and it catches up
/// from home's records when it returns. The sender runs as an ordinary user, as PostgreSQL's `archive_command` does.
@Suite(
    "Several appliances", .serialized,
    .enabled(if: UnprivilegedUser.canSwitch && SaatkondExecutable.exists, "\(UnprivilegedUser.whyNot ?? "no saatkond")")
)
struct SeveralAppliancesTests {
    static let sender = UnprivilegedUser(id: 61_011)

    /// Two `saatkond dev` appliances, a home directory for the sender with a copy of `saatkond`, each appliance's
    /// identity and a configuration naming both.
    final class Rig {
        let scratch: ScratchDirectory
        let executable: String
        let home: String
        let configuration: String
        let states: [String]
        let ports: [Int]
        var appliances: [DevAppliance?]

        init(required: Int = 1, settings: String = "") throws {
            scratch = try ScratchDirectory(prefix: "saatkond-several")
            home = "\(scratch.path)/home"
            executable = "\(scratch.path)/saatkond"
            configuration = "\(home)/sender.conf"
            states = ["\(scratch.path)/lu1", "\(scratch.path)/lu2"]
            ports = [try LoopbackPort.unused(), try LoopbackPort.unused()]
            appliances = []
            do {
                _ = try Command.run("chmod", ["0755", scratch.path])
                _ = try Command.run("install", ["-m", "0755", SaatkondExecutable.path, executable])
                try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: false)
                for index in 0..<2 { appliances.append(try start(index)) }
                var text = "state = \(home)/records\nrequired = \(required)\n\(settings)"
                for (index, state) in states.enumerated() {
                    let identity = StateDirectory(option: state).identity
                    let folder = "\(home)/lu\(index + 1)"
                    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
                    text += """
                        [appliance lu\(index + 1)]
                        connect = 127.0.0.1:\(ports[index])
                        ca = \(try Self.copy(identity.authorityCertificate.string, into: folder))
                        certificate = \(try Self.copy(identity.senderCertificate.string, into: folder))
                        private-key = \(try Self.copy(identity.senderKey.string, into: folder))

                        """
                }
                try text.write(toFile: configuration, atomically: true, encoding: .utf8)
                try sender.own(home)
                _ = try Command.run("chmod", ["0700", home])
            } catch {
                appliances.removeAll()
                scratch.remove()
                throw error
            }
        }

        deinit {
            appliances.removeAll()
            scratch.remove()
        }

        private static func copy(_ file: String, into folder: String) throws -> String {
            let target = "\(folder)/\(URL(fileURLWithPath: file).lastPathComponent)"
            try FileManager.default.copyItem(atPath: file, toPath: target)
            return target
        }

        /// Starts appliance `index` on its port, with its state (kept across restarts).
        func start(_ index: Int) throws -> DevAppliance {
            try DevAppliance(state: states[index], logs: scratch.path, port: ports[index])
        }

        /// Runs `saatkond` as the sender with the configuration.
        func run(_ arguments: [String], timeout: Double = 300) throws -> CommandResult {
            try runSaatkond(
                [arguments[0], "--config", configuration] + arguments.dropFirst(), scratch: scratch.path,
                timeout: timeout, user: sender, executable: executable)
        }

        /// Starts `saatkond` as the sender without waiting for it; with `standardInput`, reading that descriptor.
        func spawn(_ arguments: [String], standardInput: Int32? = nil) throws -> ChildProcess {
            let command = sender.command(executable, [arguments[0], "--config", configuration] + arguments.dropFirst())
            let output = "\(scratch.path)/spawn-\(UUID().uuidString)"
            return try ChildProcess(
                executable: command.executable, arguments: command.arguments, output: output + ".out",
                errors: output + ".err", standardInput: standardInput)
        }

        /// The bytes `appliance` has acknowledged of the stream it is being sent, as home's records say; nil when
        /// it has no record.
        func acknowledged(by appliance: String) throws -> Int? {
            let result = try run(["lag", "--json"])
            let parsed = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [[String: Any]] ?? []
            let streams = parsed.first { $0["appliance"] as? String == appliance }?["streams"] as? [[String: Any]]
            return streams?.first?["acknowledged"] as? Int
        }

        /// `saatkond lag --json`, as appliance name → (bytes behind, streams behind).
        func lag() throws -> [String: (bytes: Int, streams: Int)] {
            let result = try run(["lag", "--json"])
            #expect(result.status == 0, "\(result.errors)")
            let parsed = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [[String: Any]] ?? []
            var lag: [String: (bytes: Int, streams: Int)] = [:]
            for entry in parsed {
                lag[entry["appliance"] as? String ?? "?"] = (
                    entry["bytesBehind"] as? Int ?? -1, (entry["streams"] as? [Any])?.count ?? -1
                )
            }
            return lag
        }

        /// Restores `stream` from appliance `index` (as root, with the appliance's own development identity).
        func restore(_ stream: String, from index: Int) throws -> String {
            let output = "\(scratch.path)/restored-\(index)-\(UUID().uuidString)"
            let result = try runSaatkond(
                [
                    "restore", "--state", states[index], "--connect", "127.0.0.1:\(ports[index])", "--stream", stream,
                    "--output", output,
                ], scratch: scratch.path)
            #expect(result.status == 0, "\(result.errors)")
            return output
        }

        /// Makes a file the sender may read.
        func input(_ name: String, bytes: Int) throws -> String {
            let path = "\(home)/\(name)"
            try writeRandomFile(path, count: bytes)
            try sender.own(path)
            return path
        }
    }

    @Test("one appliance stopped mid-stream: the other goes on, the stopped one catches up, both restore the same")
    func stoppedMidStream() throws {
        let rig = try Rig()
        let file = try rig.input("registry.dump", bytes: 160 << 20)
        let send = try rig.spawn(["send", "--stream", "ee.two.registry", "--give-up-after", "120", file])
        defer { send.terminate() }
        // Mid-stream: once home's records show lu2 has acknowledged some of it, and not all.
        var sawProgress = false
        for _ in 0..<600 where !sawProgress {
            if let lu2 = try rig.lag()["lu2"], lu2.streams == 1, lu2.bytes < 160 << 20 { sawProgress = true }
            if !sawProgress { usleep(20_000) }
        }
        #expect(sawProgress, "lu2 never showed progress while the send ran")
        #expect(rig.appliances[1]?.stop() == 0)
        rig.appliances[1] = nil
        let gap = try rig.lag()
        #expect((gap["lu2"]?.bytes ?? 0) > 0, "lag did not show the stopped appliance behind: \(gap)")
        // The other appliance finishes while lu2 is down: its record goes as soon as it holds the stream.
        var firstDone = false
        for _ in 0..<1500 where !firstDone {
            firstDone = try rig.lag()["lu1"]?.streams == 0
            if !firstDone { usleep(20_000) }
        }
        #expect(firstDone, "lu1 did not finish while lu2 was stopped")
        #expect(send.exited() == nil, "the send ended before the stopped appliance held the stream")
        rig.appliances[1] = try rig.start(1)
        let status = send.waitForExit(timeout: 200).map(exitCode(fromWaitStatus:))
        #expect(status == 0)
        let after = try rig.lag()
        #expect(after["lu1"]?.bytes == 0 && after["lu2"]?.bytes == 0, "\(after)")
        for index in 0..<2 {
            #expect(sameBytes(try rig.restore("ee.two.registry", from: index), file))
        }
    }

    @Test("wal-push with one appliance down succeeds on the other; catch-up brings the returned one up to date")
    func walPushWithOneDown() throws {
        let rig = try Rig()
        let cluster = "ee.population.pg"
        let walDirectory = "\(rig.home)/pg_wal"
        try FileManager.default.createDirectory(atPath: walDirectory, withIntermediateDirectories: false)
        var segments: [String] = []
        for index in 1...3 {
            let path = "\(walDirectory)/00000001000000000000000\(index)"
            try writeRandomFile(path, count: 1 << 20)
            segments.append(path)
        }
        try Self.sender.own(walDirectory)
        #expect(try rig.run(["wal-push", "--cluster", cluster, segments[0]]).status == 0)
        #expect(rig.appliances[1]?.stop() == 0)
        rig.appliances[1] = nil
        let started = Date()
        let pushed = try rig.run(["wal-push", "--cluster", cluster, "--grace", "2", segments[1]])
        #expect(pushed.status == 0, "\(pushed.errors)")
        #expect(pushed.errors.contains("not yet on lu2"), "\(pushed.errors)")
        #expect(Date().timeIntervalSince(started) < 30, "an unreachable appliance held up wal-push")
        // The next push skips the appliance known to be down, without waiting for it.
        let skipped = try rig.run(["wal-push", "--cluster", cluster, segments[2]])
        #expect(skipped.status == 0 && skipped.errors.contains("skipped"), "\(skipped.errors)")
        // PostgreSQL recycles the files it archived: home's spool keeps what lu2 lacks.
        for segment in segments { try FileManager.default.removeItem(atPath: segment) }
        let gap = try rig.lag()
        #expect(gap["lu2"]?.streams == 2 && gap["lu2"]?.bytes == 2 << 20, "\(gap)")
        #expect(gap["lu1"]?.bytes == 0, "\(gap)")
        rig.appliances[1] = try rig.start(1)
        let caughtUp = try rig.run(["catch-up"])
        #expect(caughtUp.status == 0, "\(caughtUp.errors)")
        let after = try rig.lag()
        #expect(after["lu2"]?.bytes == 0 && after["lu2"]?.streams == 0, "\(after)")
        let spool = (try? FileManager.default.contentsOfDirectory(atPath: "\(rig.home)/records/spool")) ?? []
        #expect(spool.isEmpty, "the spool still holds \(spool)")
        for index in 1...3 {
            let stream = "\(cluster).wal.00000001000000000000000\(index)"
            #expect(sameBytes(try rig.restore(stream, from: 0), try rig.restore(stream, from: 1)))
        }
    }

    @Test(
        "pushing a WAL file again succeeds when the bytes are the same and fails when they differ, on any appliance",
        arguments: [1, 2])
    func pushAgain(required: Int) throws {
        let rig = try Rig(required: required)
        let path = try rig.input("000000010000000000000007", bytes: 1 << 20)
        let arguments = ["wal-push", "--cluster", "ee.pg", path]
        #expect(try rig.run(arguments).status == 0)
        let again = try rig.run(arguments)
        #expect(again.status == 0, "\(again.errors)")
        try writeRandomFile(path, count: 1 << 20)
        let different = try rig.run(arguments)
        #expect(different.status != 0)
        #expect(different.errors.contains("differ"), "\(different.errors)")
        // Refused for good: no backlog is kept for a catch-up that could only fail again.
        #expect(try rig.lag().values.allSatisfy { $0.streams == 0 })
    }

    @Test("a catch-up never sends a file that changed at home since the send that left the appliance behind")
    func changedHomeCopy() throws {
        let rig = try Rig()
        let file = try rig.input("land.dump", bytes: 3 << 20)
        #expect(rig.appliances[1]?.stop() == 0)
        rig.appliances[1] = nil
        let sent = try rig.run(["send", "--stream", "ee.land.dump", "--give-up-after", "2", file])
        #expect(sent.status == 0, "\(sent.errors)")
        #expect(try rig.lag()["lu2"]?.streams == 1)
        try writeRandomFile(file, count: 3 << 20)
        try Self.sender.own(file)
        rig.appliances[1] = try rig.start(1)
        let caughtUp = try rig.run(["catch-up"])
        #expect(caughtUp.status != 0)
        #expect(caughtUp.errors.contains("no longer hashes"), "\(caughtUp.errors)")
        #expect(try rig.lag()["lu2"]?.streams == 1, "the record must stay for an operator to decide")
    }

    @Test("wal-fetch writes nothing for a file the archive lacks or holds only part of, and whole segments exactly")
    func walFetch() throws {
        let rig = try Rig()
        let segmentSize = 1 << 20
        var segment = [UInt8](repeating: 0, count: segmentSize)
        var generator = SplitMix64(seed: 11)
        for index in segment.indices { segment[index] = UInt8(truncatingIfNeeded: generator.next()) }
        // The long page header: XLP_LONG_HEADER in xlp_info, the segment size and the block size.
        segment[2] = 0x02
        segment[3] = 0
        withUnsafeBytes(of: UInt32(segmentSize).littleEndian) { segment.replaceSubrange(32..<36, with: $0) }
        withUnsafeBytes(of: UInt32(8192).littleEndian) { segment.replaceSubrange(36..<40, with: $0) }
        let whole = "\(rig.home)/000000010000000000000009"
        try Data(segment).write(to: URL(fileURLWithPath: whole))
        let half = "\(rig.home)/half"
        try Data(segment[..<(segmentSize / 2)]).write(to: URL(fileURLWithPath: half))
        try Self.sender.own(rig.home)
        #expect(try rig.run(["wal-push", "--cluster", "ee.pg", whole]).status == 0)
        // A push cut off half way, as a crash at home would leave it.
        let cut = try rig.run(["send", "--stream", "ee.pg.wal.00000001000000000000000A", half])
        #expect(cut.status == 0, "\(cut.errors)")

        let fetched = "\(rig.home)/RECOVERYXLOG"
        let good = try rig.run(["wal-fetch", "--cluster", "ee.pg", "000000010000000000000009", fetched])
        #expect(good.status == 0, "\(good.errors)")
        #expect(sameBytes(fetched, whole))
        for (name, reason) in [("00000001000000000000000A", "cut off"), ("00000002.history", "unknown-stream")] {
            let target = "\(rig.home)/\(name)-fetched"
            let missing = try rig.run(["wal-fetch", "--cluster", "ee.pg", name, target])
            #expect(missing.status != 0)
            #expect(missing.errors.contains(reason), "\(missing.errors)")
            let left = try FileManager.default.contentsOfDirectory(atPath: rig.home).filter { $0.hasPrefix(name) }
            #expect(left.isEmpty, "wal-fetch left \(left)")
        }
        // One appliance down, the other without the file: the archive may not end here, so PostgreSQL must stop
        // the recovery (a status above 125), not end it.
        #expect(rig.appliances[0]?.stop() == 0)
        rig.appliances[0] = nil
        let target = "\(rig.home)/00000003.history-fetched"
        let unsure = try rig.run(["wal-fetch", "--cluster", "ee.pg", "00000003.history", target])
        #expect(unsure.status == 255, "\(unsure.errors)")
        #expect(!FileManager.default.fileExists(atPath: target))
        let fromTheOther = try rig.run(["wal-fetch", "--cluster", "ee.pg", "000000010000000000000009", fetched + "-2"])
        #expect(fromTheOther.status == 0, "\(fromTheOther.errors)")
        #expect(sameBytes(fetched + "-2", whole))
    }

    @Test("restore --prefix restores every stream under it; restore --resume continues a partial file, checked whole")
    func restoreManyAndResume() throws {
        let rig = try Rig()
        var files: [String: String] = [:]
        for name in ["ee.many.a", "ee.many.a.partial", "ee.many.b", "ee.many.c.d", "ee.manyother"] {
            files[name] = try rig.input(name, bytes: 300_000 + files.count * 70_000)
            #expect(try rig.run(["send", "--stream", name, files[name]!]).status == 0)
        }
        let directory = "\(rig.home)/restored"
        let all = try rig.run(["restore", "--appliance", "lu2", "--prefix", "ee.many", "--output", directory])
        #expect(all.status == 0, "\(all.errors)")
        let restored = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        #expect(restored == ["ee.many.a", "ee.many.a.partial", "ee.many.b", "ee.many.c.d"])
        for name in restored { #expect(sameBytes("\(directory)/\(name)", files[name]!)) }

        // A partial file as a broken restore leaves it: its bytes are kept and only the rest is fetched.
        let original = files["ee.many.b"]!
        let output = "\(rig.home)/resumed"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: original))
        try bytes.prefix(123_457).write(to: URL(fileURLWithPath: output + ".partial~"))
        try Self.sender.own(output + ".partial~")
        let resumed = try rig.run(["restore", "--stream", "ee.many.b", "--output", output, "--resume"])
        #expect(resumed.status == 0, "\(resumed.errors)")
        #expect(sameBytes(output, original))
        // A partial file whose bytes are not the stream's: the whole does not hash to the appliance's head.
        var wrong = bytes.prefix(200_000)
        wrong[wrong.startIndex + 5] ^= 0xFF
        let second = "\(rig.home)/resumed-wrong"
        try wrong.write(to: URL(fileURLWithPath: second + ".partial~"))
        try Self.sender.own(second + ".partial~")
        let refused = try rig.run(["restore", "--stream", "ee.many.b", "--output", second, "--resume"])
        #expect(refused.status != 0)
        #expect(refused.errors.contains("do not use this copy"), "\(refused.errors)")
        #expect(
            !FileManager.default.fileExists(atPath: second)
                && !FileManager.default.fileExists(atPath: second + ".partial~"))
    }

    @Test("an appliance that answers again is caught up in the background, by a catch-up that wal-push starts")
    func automaticCatchUp() throws {
        let rig = try Rig(settings: "skip-unreachable-for = 0\n")
        let cluster = "ee.auto.pg"
        var segments: [String] = []
        for index in 1...3 {
            segments.append(try rig.input("00000001000000000000000\(index)", bytes: 1 << 20))
        }
        #expect(rig.appliances[1]?.stop() == 0)
        rig.appliances[1] = nil
        for segment in segments.prefix(2) {
            let pushed = try rig.run(["wal-push", "--cluster", cluster, "--grace", "1", segment])
            #expect(pushed.status == 0, "\(pushed.errors)")
        }
        #expect(try rig.lag()["lu2"]?.streams == 2)
        rig.appliances[1] = try rig.start(1)
        #expect(try rig.run(["wal-push", "--cluster", cluster, segments[2]]).status == 0)
        // The catch-up runs on its own; its process id is in its lock file, by which the test waits for it.
        let lock = "\(rig.home)/records/catch-up.lock"
        var caughtUp = false
        for _ in 0..<3000 where !caughtUp {
            caughtUp = try rig.lag()["lu2"]?.streams == 0
            if !caughtUp { usleep(20_000) }
        }
        #expect(caughtUp, "lu2 was not caught up")
        if let text = try? String(contentsOfFile: lock, encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
        {
            var ended = false
            for _ in 0..<1500 where !ended {
                ended = !FileManager.default.fileExists(atPath: "/proc/\(pid)") || Self.isZombie(pid)
                if !ended { usleep(20_000) }
            }
            if !ended { kill(pid, SIGKILL) }
            #expect(ended, "the background catch-up \(pid) did not end")
        } else {
            Issue.record("no catch-up lock with a process id at \(lock)")
        }
        for index in 1...3 {
            let stream = "\(cluster).wal.00000001000000000000000\(index)"
            #expect(sameBytes(try rig.restore(stream, from: 1), segments[index - 1]))
        }
    }

    @Test("wal-push pushes the other ready files after its own and marks them done, as PostgreSQL's archiver would")
    func pushAhead() throws {
        let rig = try Rig(required: 2)
        let walDirectory = "\(rig.home)/pg_wal"
        try FileManager.default.createDirectory(
            atPath: "\(walDirectory)/archive_status", withIntermediateDirectories: true)
        let names = [
            "000000010000000000000011", "000000010000000000000012", "000000010000000000000013", "00000002.history",
        ]
        for name in names {
            try writeRandomFile("\(walDirectory)/\(name)", count: 200_000)
            #expect(
                FileManager.default.createFile(atPath: "\(walDirectory)/archive_status/\(name).ready", contents: nil))
        }
        // A ready status whose file is gone (already recycled) is passed over, not an error.
        #expect(
            FileManager.default.createFile(
                atPath: "\(walDirectory)/archive_status/000000010000000000000010.ready", contents: nil))
        try Self.sender.own(walDirectory)
        let pushed = try rig.run([
            "wal-push", "--cluster", "ee.ahead", "--push-ahead", "3", "\(walDirectory)/\(names[0])",
        ])
        #expect(pushed.status == 0, "\(pushed.errors)")
        let statuses = Set(try FileManager.default.contentsOfDirectory(atPath: "\(walDirectory)/archive_status"))
        // Its own status is PostgreSQL's to change; the history file goes first, as PostgreSQL orders them, then the
        // oldest segment; the third ready file waits for its turn (3 files per call).
        #expect(
            statuses == [
                "000000010000000000000011.ready", "00000002.history.done", "000000010000000000000012.done",
                "000000010000000000000013.ready", "000000010000000000000010.ready",
            ], "\(statuses.sorted())")
        for name in names.prefix(2) + ["00000002.history"] {
            for index in 0..<2 {
                #expect(sameBytes(try rig.restore("ee.ahead.wal.\(name)", from: index), "\(walDirectory)/\(name)"))
            }
        }
    }

    @Test("a wal-push killed mid-file is pushed again, as PostgreSQL retries it: the appliances end with the file")
    func killedPush() throws {
        let rig = try Rig(required: 2)
        let path = try rig.input("000000010000000000000021", bytes: 192 << 20)
        let push = try rig.spawn(["wal-push", "--cluster", "ee.killed", path])
        defer { push.terminate() }
        // Mid-file: home's records show an appliance has acknowledged part of it.
        var midFile = false
        for _ in 0..<1500 where !midFile && push.exited() == nil {
            midFile = try rig.lag().values.contains { $0.bytes > 0 && $0.bytes < 192 << 20 }
            if !midFile { usleep(20_000) }
        }
        #expect(midFile, "the push ended before it could be killed mid-file")
        push.send(SIGKILL)
        _ = push.waitForExit(timeout: 10)
        let again = try rig.run(["wal-push", "--cluster", "ee.killed", path])
        #expect(again.status == 0, "\(again.errors)")
        #expect(try rig.lag().values.allSatisfy { $0.streams == 0 })
        for index in 0..<2 {
            #expect(sameBytes(try rig.restore("ee.killed.wal.000000010000000000000021", from: index), path))
        }
    }

    @Test("standard input goes to both appliances as it arrives; one stopped meanwhile catches up from home's spool")
    func standardInput() throws {
        let rig = try Rig()
        let input = "\(rig.scratch.path)/piped"
        try writeRandomFile(input, count: 96 << 20)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: input))
        var descriptors: [Int32] = [0, 0]
        #expect(pipe(&descriptors) == 0)
        let send = try rig.spawn(
            ["send", "--stream", "ee.piped.base", "--give-up-after", "3", "-"], standardInput: descriptors[0])
        close(descriptors[0])
        defer { send.terminate() }
        func feed(_ range: Range<Int>) {
            bytes[range].withUnsafeBytes { chunk in
                var done = 0
                while done < chunk.count {
                    let wrote = write(descriptors[1], chunk.baseAddress! + done, chunk.count - done)
                    guard wrote > 0 else { return }
                    done += wrote
                }
            }
        }
        feed(0..<(48 << 20))
        // Both appliances acknowledge bytes while the input is still open: nothing waits for the whole input.
        var streaming = false
        for _ in 0..<1500 where !streaming {
            streaming = try (rig.acknowledged(by: "lu1") ?? 0) > 0 && (rig.acknowledged(by: "lu2") ?? 0) > 0
            if !streaming { usleep(20_000) }
        }
        #expect(streaming, "the appliances acknowledged nothing before the input ended")
        #expect(rig.appliances[1]?.stop() == 0)
        rig.appliances[1] = nil
        feed((48 << 20)..<bytes.count)
        close(descriptors[1])
        #expect(send.waitForExit(timeout: 200).map(exitCode(fromWaitStatus:)) == 0)
        let gap = try rig.lag()
        #expect(gap["lu1"]?.streams == 0 && gap["lu2"]?.streams == 1, "\(gap)")
        let spool = "\(rig.home)/records/spool"
        #expect(try FileManager.default.contentsOfDirectory(atPath: spool) == ["ee.piped.base"])
        rig.appliances[1] = try rig.start(1)
        let caughtUp = try rig.run(["catch-up"])
        #expect(caughtUp.status == 0, "\(caughtUp.errors)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: spool).isEmpty)
        for index in 0..<2 { #expect(sameBytes(try rig.restore("ee.piped.base", from: index), input)) }
    }

    @Test("a wal-push that fails pushes nothing ahead, so archive_command does not wait out every ready file's retries")
    func failedPushStopsPushingAhead() throws {
        let rig = try Rig(required: 2)
        let walDirectory = "\(rig.home)/pg_wal"
        try FileManager.default.createDirectory(
            atPath: "\(walDirectory)/archive_status", withIntermediateDirectories: true)
        let names = (1...4).map { "00000001000000000000003\($0)" }
        for name in names {
            try writeRandomFile("\(walDirectory)/\(name)", count: 100_000)
            #expect(
                FileManager.default.createFile(atPath: "\(walDirectory)/archive_status/\(name).ready", contents: nil))
        }
        try Self.sender.own(walDirectory)
        #expect(rig.appliances[1]?.stop() == 0)
        rig.appliances[1] = nil
        let started = Date()
        let pushed = try rig.run([
            "wal-push", "--cluster", "ee.stuck", "--give-up-after", "2", "\(walDirectory)/\(names[0])",
        ])
        #expect(pushed.status != 0)
        #expect(Date().timeIntervalSince(started) < 20, "wal-push went on pushing ahead after its own file failed")
        let statuses = try FileManager.default.contentsOfDirectory(atPath: "\(walDirectory)/archive_status")
        #expect(statuses.allSatisfy { $0.hasSuffix(".ready") }, "\(statuses.sorted())")
        // Only the asked-for file was tried: home's records hold it alone for the appliance that was away.
        let lag = try rig.lag()
        #expect(lag["lu2"]?.streams == 1, "\(lag) \(pushed.errors)")
    }

    private static func isZombie(_ pid: Int32) -> Bool {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        return status.split(separator: ")").last?.trimmingCharacters(in: .whitespaces).hasPrefix("Z") ?? true
    }
}
