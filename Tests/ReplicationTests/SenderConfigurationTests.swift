import Foundation
import HashChain
import PropertyBased
import ReplicationClients
import SystemPackage
import TestSupport
import Testing

/// Home's sender configuration, its records of what each appliance lacks, and the names of a WAL archive: every
/// text that home reads back from its own disk is parsed as strictly as one from the network.
@Suite("Home's configuration and records")
struct SenderConfigurationTests {
    @Test("defaults before the first section apply to every appliance; a section's own keys win")
    func defaultsAndSections() throws {
        let text = """
            cluster = ee.population.pg
            state = /var/lib/saatkond
            required = 2
            ca = /etc/ca.pem   # the embassies' CA
            certificate = /etc/sender.pem
            private-key = /etc/sender-key.pem
            [appliance lu1]
            connect = embassy-lu.example:7443
            read-connect = embassy-lu.example:7444
            [appliance lu2]
            connect = [::1]:7444
            ca = /etc/lu2-ca.pem
            """
        let configuration = try SenderConfiguration(parsing: text, file: "sender.conf")
        #expect(configuration.cluster == "ee.population.pg")
        #expect(configuration.required == 2)
        #expect(configuration.appliances.map(\.name) == ["lu1", "lu2"])
        #expect(configuration.appliances[0].authority == "/etc/ca.pem")
        #expect(configuration.appliances[1].authority == "/etc/lu2-ca.pem")
        #expect(configuration.appliances[1].host == "::1" && configuration.appliances[1].port == 7444)
        #expect(configuration.appliances[1].privateKey == "/etc/sender-key.pem")
        // Restores go to the reader service's port where one is named, else to `connect`.
        #expect(configuration.appliances[0].readHost == "embassy-lu.example")
        #expect(configuration.appliances[0].readPort == 7444 && configuration.appliances[0].port == 7443)
        #expect(configuration.appliances[1].readHost == "::1" && configuration.appliances[1].readPort == 7444)
    }

    @Test(
        "mistakes are reported with file and line",
        arguments: [
            ("cluster = x\n", "c: no appliance is configured"),
            ("[appliance a]\nconnect = h:1\n", "c:1: the appliance 'a' needs ca, certificate and private-key"),
            ("[appliance a]\nconnect = nowhere\ndevelopment-state = d\n", "c:2: connect must be HOST:PORT"),
            ("[appliance a]\nconnect = h:1\nread-connect = h\ndevelopment-state = d\n", "c:3: read-connect must be"),
            ("read-connect = h:2\n[appliance a]\n", "c:1: unknown key 'read-connect' before the first"),
            ("[appliance a/b]\n", "c:1: the appliance name 'a/b'"),
            ("[appliance a]\ncluster = x\n", "c:2: unknown key 'cluster' in an [appliance NAME] section"),
            ("required = 3\n[appliance a]\nconnect = h:1\ndevelopment-state = d\n", "c:1: required must be"),
            ("state = a\nstate = b\n", "c:2: 'state' is already set on line 1"),
            ("[appliance a]\n[appliance a]\n", "c:2: the appliance 'a' is already configured on line 1"),
            ("[server a]\n", "c:1: expected `[appliance NAME]`"),
        ])
    func mistakes(text: String, expected: String) {
        do {
            _ = try SenderConfiguration(parsing: text, file: "c")
            Issue.record("accepted \(text.debugDescription)")
        } catch {
            #expect(error.description.hasPrefix(expected), "\(error.description)")
        }
    }

    @Test("any text either parses or is refused with a located error, never a crash")
    func configurationProperty() async {
        let words = [
            "[appliance a]", "[appliance b]", "connect = h:7443", "connect = :1", "state = s", "required = 1",
            "required = 0", "ca = c", "certificate = c", "private-key = k", "development-state = d", "= x", "#", "[",
            "\u{0}", "cluster = ee",
        ]
        await propertyCheck(count: 2000, input: Gen.element(of: words).array(of: 0...8)) { lines in
            let text = lines.compactMap { $0 }.joined(separator: "\n")
            do {
                let configuration = try SenderConfiguration(parsing: text, file: "p")
                #expect(!configuration.appliances.isEmpty)
                #expect((1...configuration.appliances.count).contains(configuration.required))
            } catch {
                #expect("\(error)".hasPrefix("p"), "\(error)")
            }
        }
    }

    @Test("a backlog record reads back as written, and altered or truncated ones are refused")
    func backlogRecords() async throws {
        let backlog = Backlog(
            appliance: "lu1", stream: "ee.pg.wal.00000001000000000000000A", homeLength: 16 << 20,
            acknowledged: 4 << 20, behindSince: 1_796_505_541_613, source: "/var/lib/saatkond/spool/x",
            head: StreamHashChain.head(of: [1, 2, 3]))
        #expect(
            try Backlog(
                appliance: "lu1",
                parsing: Backlog(
                    appliance: "lu1", stream: "s", homeLength: 0,
                    acknowledged: 0, behindSince: 0, source: "/s"
                ).text
            ).head == nil)
        #expect(try Backlog(appliance: "lu1", parsing: backlog.text) == backlog)
        let text = Array(backlog.text.utf8)
        await propertyCheck(count: 2000, input: Gen.uint16().array(of: 1...3)) { cuts in
            var altered = text
            for cut in cuts.map({ Int($0) % altered.count }) {
                altered[cut] = altered[cut] == UInt8(ascii: "1") ? UInt8(ascii: "x") : UInt8(ascii: "1")
            }
            if let parsed = try? Backlog(appliance: "lu1", parsing: String(decoding: altered, as: UTF8.self)) {
                #expect(parsed.acknowledged <= parsed.homeLength)
            }
        }
        for length in 0..<text.count {
            let prefix = String(decoding: text[..<length], as: UTF8.self)
            if let parsed = try? Backlog(appliance: "lu1", parsing: prefix) {
                // Only a cut inside the last value can still parse, and then it names another file, never numbers.
                #expect(parsed.homeLength == backlog.homeLength && parsed.acknowledged == backlog.acknowledged)
            }
        }
    }

    @Test("home's records: a backlog per appliance and stream, the spool released when no appliance needs it")
    func records() throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-records")
        defer { scratch.remove() }
        let records = HomeRecords(directory: FilePath("\(scratch.path)/records"))
        #expect(try records.backlogs().isEmpty)
        let source = "\(scratch.path)/00000001000000000000000B"
        try Data(repeating: 7, count: 1000).write(to: URL(fileURLWithPath: source))
        let spooled = try records.spool(FilePath(source), as: "ee.pg.wal.00000001000000000000000B")
        #expect(sameContents(spooled.string, source))
        for appliance in ["lu1", "lu2"] {
            try records.record(
                Backlog(
                    appliance: appliance, stream: "ee.pg.wal.00000001000000000000000B", homeLength: 1000,
                    acknowledged: 0, behindSince: 1, source: spooled.string),
                durable: true)
        }
        let report = try LagReport(configured: ["lu1", "lu2", "lu3"], records: records)
        #expect(report.appliances.map(\.bytesBehind) == [1000, 1000, 0])
        try records.remove(appliance: "lu1", stream: "ee.pg.wal.00000001000000000000000B")
        try records.releaseSpool(of: "ee.pg.wal.00000001000000000000000B")
        #expect(FileManager.default.fileExists(atPath: spooled.string), "lu2 still needs the spooled copy")
        try records.remove(appliance: "lu2", stream: "ee.pg.wal.00000001000000000000000B")
        try records.releaseSpool(of: "ee.pg.wal.00000001000000000000000B")
        #expect(!FileManager.default.fileExists(atPath: spooled.string))
        try records.markUnreachable("lu2", until: 42)
        #expect(records.unreachableUntil("lu2") == 42)
        try records.markReachable("lu2")
        #expect(records.unreachableUntil("lu2") == nil)
    }

    @Test(
        "WAL archive names keep PostgreSQL's own, and nothing else is archived",
        arguments: [
            ("00000001000000000000000A", true), ("00000002.history", true), ("000000010000000000000003.partial", true),
            ("000000010000000000000003.00000028.backup", true), ("0000000100000000000000a", false),
            ("../00000001", false), ("RECOVERYXLOG", false), ("", false), ("00000001.history.history", false),
            (".history", false),
        ])
    func walNames(name: String, archived: Bool) {
        #expect((WALArchive(cluster: "ee.pg").stream(forFileNamed: name) != nil) == archived)
        if archived { #expect(WALArchive(cluster: "ee.pg").stream(forFileNamed: name) == "ee.pg.wal.\(name)") }
    }

    @Test("a WAL segment's long page header gives its size; anything else gives none")
    func segmentHeader() async {
        var header = [UInt8](repeating: 0, count: 40)
        header[2] = 0x02
        header.replaceSubrange(32..<36, with: [0, 0, 0, 1])  // 16 MiB, little-endian
        header.replaceSubrange(36..<40, with: [0, 0x20, 0, 0])  // 8192
        #expect(WALSegmentHeader(header)?.segmentSize == 16 << 20)
        #expect(WALSegmentHeader(header.prefix(39)) == nil)
        await propertyCheck(count: 3000, input: Gen.uint8().array(of: 40...40)) { bytes in
            if let parsed = WALSegmentHeader(bytes) {
                #expect(parsed.segmentSize.nonzeroBitCount == 1)
                #expect((1 << 20...1 << 30).contains(parsed.segmentSize))
            }
        }
    }

    private func sameContents(_ first: String, _ second: String) -> Bool {
        FileManager.default.contentsEqual(atPath: first, andPath: second)
    }
}
