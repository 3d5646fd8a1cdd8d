import CryptoPrimitives
import CustodyLog
import Disks
import DurableFiles
import Foundation
import Keys
import LocalControl
import LoopRig
import SystemPackage
import TestSupport
import Testing

/// `saatkond disks` as its unit runs it: its own process, its own configuration, and only the capabilities its unit
/// leaves it (CapabilityBoundingSet), over the loop-device rig with real udev events.
@Suite(
    "saatkond disks, as its unit runs it", .serialized,
    .enabled(if: LoopChassis.usable && UnprivilegedUser.canSwitch, "needs root, setpriv and the disk tools"))
struct DisksServiceTests {
    static let reader = UnprivilegedUser(id: 61_031)
    /// In the reader's group, the socket's: both may connect; what each may ask is the service's to decide.
    static let console = UnprivilegedUser(id: 61_032, group: 61_031)
    /// The unit's CapabilityBoundingSet, as setpriv spells it.
    static let unitCapabilities = "-all,+sys_admin,+sys_rawio,+dac_override,+chown,+fowner"

    @Test("with only its unit's capabilities it forms the array and follows a pull; the socket serves whom it may")
    func boundedService() throws {
        let scratch = try ScratchDirectory()
        let rig = try LoopRig(directory: FilePath("\(scratch.path)/saatkond-rig"), bays: 12)
        // udevd first: it then knows whether /run/udev was there before (the rules are put under it).
        let udevd = try UdevDaemon.startOrReuse(logFile: "\(scratch.path)/udevd.log")
        try LoopRig.installRules(from: FilePath(LoopChassis.hardware))
        var service: ChildProcess?
        defer {
            service?.send(SIGTERM)
            if service?.waitForExit(timeout: 20) == nil { service?.send(SIGKILL) }
            Self.unmountEverything(under: scratch.path)
            rig.detachAll()
            LoopRig.removeRules()
            udevd.stop()
            scratch.remove()
        }
        let configuration = try Self.configuration(in: scratch.path, rig: rig)
        for bay in 1...12 {
            let serial = String(format: "SVC-%02d", bay)
            _ = try rig.makeDisk(serial: serial, bytes: 600 << 20)
            _ = try rig.insert(serial: serial, bay: bay)
        }
        service = try ChildProcess(
            executable: "/usr/bin/setpriv",
            arguments: [
                "--bounding-set=\(Self.unitCapabilities)", "--inh-caps=-all", "--", SaatkondExecutable.path, "disks",
                "--config", configuration,
            ],
            output: "\(scratch.path)/disks.out", errors: "\(scratch.path)/disks.err")
        let socket = "\(scratch.path)/disks.sock"
        let status = { () throws -> DisksStatus in
            let answer = try LocalControlClient.request(path: socket, op: "state", body: [:], timeout: .seconds(10))
            return try JSONDecoder().decode(DisksStatus.self, from: JSONEncoder().encode(answer))
        }
        let log = { DevAppliance.read("\(scratch.path)/disks.err") }
        var formed: DisksStatus?
        for _ in 0..<600 where formed == nil {
            if let current = try? status(), current.array.wholeMembers == 11 { formed = current }
            usleep(100_000)
        }
        let array = try #require(formed, "no array formed in 60 s: \(log())")
        #expect(array.bays.first { $0.bay == 12 }?.disk?.state == "spare")
        // Ingest (the storage owner) must read and write what the disks service made: every file and directory but
        // the custody log's copy, which it may read only (root's, in the storage owner's group, 0640).
        let owners = try Command.run(
            "find",
            ["\(scratch.path)/members", "-mindepth", "1", "!", "-uid", "\(Self.reader.id)", "!", "-name", "audit.log"])
        #expect(owners.isEmpty, "not the storage owner's: \(owners)")
        // Each member gets its copy of the custody log at the next record or the next second's look.
        var copies = ""
        for _ in 0..<100 where copies.split(separator: "\n").count < 11 {
            copies = try Command.run(
                "find",
                [
                    "\(scratch.path)/members", "-name", "audit.log", "-uid", "0", "-gid", "\(Self.reader.group)",
                    "-perm", "0640",
                ])
            usleep(100_000)
        }
        #expect(
            copies.split(separator: "\n").count == 11,
            "the custody log's copies: \((try? Command.run("find", ["\(scratch.path)/members", "-name", "audit.log", "-ls"])) ?? "")"
        )
        let capabilities = try UnprivilegedUser.credentials(of: service!.pid).boundingCapabilities
        // CAP_SYS_ADMIN 21, CAP_SYS_RAWIO 17, CAP_DAC_OVERRIDE 1, CAP_CHOWN 0, CAP_FOWNER 3.
        let unitSet: UInt64 = [21, 17, 1, 0, 3].reduce(0) { $0 | (1 << $1) }
        #expect(capabilities == unitSet, "bounding set \(String(capabilities, radix: 16))")

        try rig.pull(bay: 3)
        var missing = false
        for _ in 0..<100 where !missing {
            missing =
                (try? status())?.away.contains { $0.identity == "serial-SVC-03" && $0.state == "missing" } ?? false
            usleep(20_000)
        }
        #expect(missing, "the pull was not seen within 2 s: \(log())")

        // One copy of the executable that both users may run (the build's own may lie where they cannot reach).
        let executable = "\(scratch.path)/saatkond-copy"
        _ = try Command.run("install", ["-m", "0755", SaatkondExecutable.path, executable])
        let read = try runSaatkond(
            ["disks", "status", "--socket", socket], scratch: scratch.path, user: Self.reader, executable: executable)
        #expect(read.status == 0 && read.output.contains("bay 12"), "\(read.errors)")
        let order = try runSaatkond(
            ["disks", "prepare-removal", "--socket", socket, "--bay", "4"], scratch: scratch.path, user: Self.reader,
            executable: executable)
        #expect(order.status != 0 && order.errors.contains("not allowed"), "\(order.errors)")
        let prepared = try runSaatkond(
            ["disks", "prepare-removal", "--socket", socket, "--bay", "4"], scratch: scratch.path, user: Self.console,
            executable: executable)
        #expect(prepared.status == 0, "\(prepared.errors)")
        #expect(DevAppliance.read(rig.indicatorFile(bay: 4).string).hasPrefix("locate"))

        try checkCustodyLog(
            scratch: scratch.path, status: status, socket: socket, headBeforeOrder: array.audit,
            configuration: configuration,
            kill: {
                service?.send(SIGKILL)
                _ = service?.waitForExit(timeout: 20)
            },
            start: {
                service = try ChildProcess(
                    executable: "/usr/bin/setpriv",
                    arguments: [
                        "--bounding-set=\(Self.unitCapabilities)", "--inh-caps=-all", "--", SaatkondExecutable.path,
                        "disks", "--config", configuration,
                    ],
                    output: "\(scratch.path)/disks-2.out", errors: "\(scratch.path)/disks-2.err")
            })
    }

    /// The one custody log: a copy on every member, byte for byte; the head moves with every order; the keys
    /// service's log copied in; an excerpt from the socket verifies against the head; and with the system disk's
    /// log lost (kill -9, the file gone), the restarted service continues the chain the members kept.
    func checkCustodyLog(
        scratch: String, status: () throws -> DisksStatus, socket: String, headBeforeOrder: CustodyLog.HeadSummary?,
        configuration: String, kill: () -> Void, start: () throws -> Void
    ) throws {
        let primary = "\(scratch)/disks/custody.log"
        let members = try FileManager.default.contentsOfDirectory(atPath: "\(scratch)/members")
            .filter { !$0.hasPrefix(".") }.map { "\(scratch)/members/\($0)" }
            .filter { FileManager.default.fileExists(atPath: "\($0)/saatkond-member") }
        #expect(members.count == 9, "\(members)")  // 11 formed, bay 3 pulled, bay 4 prepared for removal
        // The copies follow the members mounted now at the next record or the next second's look.
        var head = try #require(try status().audit)
        for _ in 0..<50 where head.copies != members.count {
            usleep(100_000)
            head = try #require(try status().audit)
        }
        #expect(head.copies == members.count)
        #expect(head.records > (headBeforeOrder?.records ?? 0) && head.head != headBeforeOrder?.head)
        // Each copy is the log: read between two reads of the log, it holds at least the first and is a prefix of
        // the second (the log is written first, its copies after it).
        let logBefore = try FileSystemCalls.readAll(FilePath(primary))
        let copied = try members.map { try FileSystemCalls.readAll(FilePath("\($0)/audit.log")) }
        let logAfter = try FileSystemCalls.readAll(FilePath(primary))
        for (member, copy) in zip(members, copied) {
            #expect(copy.count >= logBefore.count && logAfter.starts(with: copy), "\(member)")
        }

        // The keys service's own log, copied in with its place in that chain. It lies, as on the appliance, in another
        // user's 0700 state directory: the disks service reads it with the capability its unit keeps.
        try FileManager.default.createDirectory(atPath: "\(scratch)/keys-state", withIntermediateDirectories: false)
        let keysLog = try CustodyLog(path: FilePath("\(scratch)/keys-state/audit.log"))
        let keyEvent = try keysLog.append(CustodyEvent("keys.unsealed", ["pcrs": "sha256:7"]))
        keysLog.close()
        try Self.console.own("\(scratch)/keys-state")
        _ = try Command.run("chmod", ["-R", "go-rwx", "\(scratch)/keys-state"])
        var imported: [String] = []
        for _ in 0..<100 where imported.isEmpty {
            usleep(50_000)
            let records = try status().audit?.records ?? 0
            // As the health service asks for an excerpt for `GET /audit`.
            let lines = try ApplianceFactsSource(disksSocket: socket).auditExcerpt(from: 1, count: Int64(records))
            if lines.contains(where: { $0.contains("\"origin-hash\":\"\(keyEvent.hash)\"") }) { imported = lines }
        }
        #expect(!imported.isEmpty, "the keys service's record was not copied in within 5 s")
        let excerpt = Array(imported.map { $0 + "\n" }.joined().utf8)
        let records = try CustodyLog.verify(excerpt: excerpt, endingAt: CustodyLog.verify(excerpt).last!.hash)
        #expect(records.first?.seq == 1)
        // What a report signs: the head the disks service publishes.
        let facts = ApplianceFactsSource(disksSocket: socket).gather()
        let published = try #require(try status().audit)
        #expect(facts.audit?.head == published.head && facts.audit?.records == Int(published.records))
        #expect(facts.audit?.copies == members.count)

        // Another service's history through the socket: under the name its uid has, whatever it claims; only the
        // history's events; not for a uid that is no recorder; at most 30 a minute.
        let started = try Self.reader.ask(
            #"{"op":"record","event":"service.started","fields":{"service":"keys","boot-id":"b1"}}"#, socket: socket,
            scratch: scratch)
        #expect(started.answer.contains("\"ok\":true"), "\(started.answer)")
        let last = try #require(try CustodyLog.verify(try FileSystemCalls.readAll(FilePath(primary))).last)
        #expect(last.event == "service.started" && last.fields["service"] == "ingest")
        for (user, request, reason) in [
            (Self.console, #"{"op":"record","event":"service.started","fields":{}}"#, "not allowed"),
            (Self.reader, #"{"op":"record","event":"disk.removed","fields":{}}"#, "only service.started"),
            (Self.reader, #"{"op":"record","event":"service.stopped","fields":{"wwn":"x"}}"#, "fields are limited"),
        ] {
            let refused = try user.ask(request, socket: socket, scratch: scratch)
            #expect(refused.answer.contains(reason), "\(refused.answer)")
        }
        var answers: [String] = []
        for _ in 0..<30 {
            answers.append(
                try Self.reader.ask(
                    #"{"op":"record","event":"watchdog.check-passed","fields":{}}"#, socket: socket, scratch: scratch
                ).answer)
        }
        #expect(answers.last?.contains("more than 30 records a minute") == true, "\(answers.suffix(2))")
        #expect(try status().watchdog?.checkFailures == 0)

        // The system disk's log is lost; the members' copies hold the chain.
        let before = try #require(try status().audit)
        kill()
        try FileManager.default.moveItem(atPath: primary, toPath: "\(primary).lost")
        // The configuration changes too: the next start says so.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: configuration))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("\n# scrub less often\nscrub-every = 60d\n".utf8))
        try handle.close()
        try start()
        var after: CustodyLog.HeadSummary?
        for _ in 0..<300 where after == nil {
            usleep(100_000)
            if let audit = (try? status())?.audit, audit.records > before.records { after = audit }
        }
        let continued = try #require(after, "the restarted service did not continue the members' chain")
        let chain = try CustodyLog.verify(try FileSystemCalls.readAll(FilePath(primary)))
        // The log may have grown since the status was read; the published head is in it, where it said.
        #expect(chain.count >= Int(continued.records) && chain[Int(continued.records) - 1].hash == continued.head)
        #expect(chain.first?.hash == records.first?.hash)
        #expect(chain.contains { $0.event == "service.started" && $0.seq > before.records })
        let digests = chain.filter { $0.event == "service.started" && $0.fields["service"] == "disks" }
            .compactMap { $0.fields["config-sha256"] }
        #expect(digests.count == 2 && digests[0] != digests[1], "\(digests)")
        // The history read from the chain: the kill -9 is a run that ended without stopping.
        let history = try #require(try status().watchdog)
        #expect(history.restarts >= 1, "\(history)")
        #expect(history.lastReason?.contains("disks: restarted without stopping") == true, "\(history)")
    }

    /// The service's configuration file, its key files and chassis map, in `directory`.
    static func configuration(in directory: String, rig: LoopRig) throws -> String {
        let privateKey = try X25519PrivateKey()
        let hex = { (bytes: [UInt8]) in bytes.map { String(format: "%02x", $0) }.joined() }
        try hex(privateKey.publicKey.rawRepresentation).write(
            toFile: "\(directory)/storage.pub", atomically: true, encoding: .utf8)
        try hex(try CryptoRandom.bytes(count: 32)).write(
            toFile: "\(directory)/journal.key", atomically: true, encoding: .utf8)
        let text = """
            chassis = \(LoopChassis.hardware)/test-rig/test-rig.bays
            members-root = \(directory)/members
            state = \(directory)/disks
            socket = \(directory)/disks.sock
            socket-group = \(reader.group)
            data-shards = 8
            parity-shards = 3
            storage-public-key = \(directory)/storage.pub
            journal-key = \(directory)/journal.key
            rig = \(rig.directory.string)
            rebuild-rate = 0
            storage-owner = \(reader.id):\(reader.group)
            reader-uid = \(reader.id)
            console-uid = \(console.id)
            audit-source = keys \(directory)/keys-state/audit.log
            recorder = ingest \(reader.id)
            """
        let path = "\(directory)/disks.conf"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func unmountEverything(under directory: String) {
        let mounts = ((try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)) ?? "")
            .split(separator: "\n").compactMap { line -> String? in
                let fields = line.split(separator: " ")
                return fields.count > 1 && fields[1].hasPrefix(directory) ? String(fields[1]) : nil
            }
        for mount in mounts.sorted(by: { $0.count > $1.count }) {
            _ = try? Command.run("umount", ["--lazy", mount])
        }
    }
}
