import Disks
import Foundation
import PropertyBased
import Testing

/// The disks service's configuration: every mistake is located, and no text crashes the parser.
@Suite("Disks configuration")
struct DisksConfigurationTests {
    static let minimal = """
        chassis = /usr/share/saatkond/hardware/chassis/supermicro-sc826be1c.bays
        members-root = /srv/saatkond/members
        state = /var/lib/saatkond-disks
        socket = /run/saatkond/disks.sock
        data-shards = 8
        parity-shards = 3
        storage-public-key = /etc/saatkond/keys/storage.pub
        journal-key = /run/saatkond/keys/journal.key
        """

    @Test func aFullConfigurationParses() throws {
        let text =
            Self.minimal + """

                storage-owner = 990:991   # the ingest user
                scrub-every = 30d
                smart-every = 15m
                rebuild-rate = 200M
                rig = /var/lib/saatkond-rig
                console-uid = 992
                console-uid = 993
                reader-uid = 994
                reporter-uid = 990
                audit-source = keys /var/lib/saatkond-keys/audit.log
                """
        let configuration = try DisksConfiguration(parsing: text, file: "disks.conf")
        #expect(configuration.dataShards == 8 && configuration.parityShards == 3)
        #expect(configuration.storageOwner?.uid == 990 && configuration.storageOwner?.gid == 991)
        #expect(configuration.scrubEvery == .seconds(30 * 86_400))
        #expect(configuration.smartEvery == .seconds(900))
        #expect(configuration.rebuildBytesPerSecond == 200 << 20)
        #expect(configuration.consoleUIDs == [992, 993])
        #expect(configuration.readerUIDs == [994] && configuration.reporterUIDs == [990])
        #expect(configuration.auditSources == ["keys": "/var/lib/saatkond-keys/audit.log"])
        #expect(configuration.text == text)
        #expect(
            try DisksConfiguration(parsing: Self.minimal + "\nrebuild-rate = 0", file: "d").rebuildBytesPerSecond == nil
        )
    }

    @Test(
        "mistakes are reported with file and line",
        arguments: [
            ("\nfoo = 1", "d:9: unknown key 'foo'"),
            ("\ndata-shards = 9", "d:9: 'data-shards' is already set on line 5"),
            ("\nscrub-every = 30", "d:9: 'scrub-every' must be a positive number"),
            ("\nscrub-every = -1d", "d:9: 'scrub-every' must be a positive number"),
            ("\nrebuild-rate = fast", "d:9: 'rebuild-rate' must be bytes per second"),
            ("\nstorage-owner = ingest", "d:9: storage-owner must be UID:GID"),
            ("\nconsole-uid = root", "d:9: 'console-uid' must be a numeric user id"),
            ("\njust words", "d:9: expected `key = value`"),
            ("\nrig =", "d:9: 'rig' has no value"),
            ("\naudit-source = keys", "d:9: 'audit-source' must be NAME /ABSOLUTE/PATH"),
            ("\naudit-source = k/s /a.log", "d:9: 'audit-source' must be NAME /ABSOLUTE/PATH"),
            ("\naudit-source = keys a.log", "d:9: 'audit-source' must be NAME /ABSOLUTE/PATH"),
            ("\naudit-source = keys /a\naudit-source = keys /b", "d:10: the audit source 'keys' is named twice"),
        ])
    func mistakes(suffix: String, expected: String) {
        do {
            _ = try DisksConfiguration(parsing: Self.minimal + suffix, file: "d")
            Issue.record("accepted \(suffix.debugDescription)")
        } catch {
            #expect(error.description.hasPrefix(expected), "\(error.description)")
        }
    }

    @Test("the keys come from the keys service's socket or from both files, never from both places")
    func keysSocket() throws {
        let withoutFiles = Self.minimal.split(separator: "\n").filter {
            !$0.hasPrefix("journal-key") && !$0.hasPrefix("storage-public-key")
        }.joined(separator: "\n")
        let parsed = try DisksConfiguration(
            parsing: withoutFiles + "\nkeys-socket = /run/saatkond/keys.sock", file: "d")
        #expect(parsed.keysSocket == "/run/saatkond/keys.sock")
        #expect(throws: DisksConfigurationError.self) {
            try DisksConfiguration(parsing: Self.minimal + "\nkeys-socket = /run/saatkond/keys.sock", file: "d")
        }
    }

    @Test func aMissingKeyIsNamed() {
        #expect(throws: DisksConfigurationError("d: 'journal-key' is missing (or give 'keys-socket')")) {
            try DisksConfiguration(parsing: Self.minimal.replacingOccurrences(of: "journal-key", with: "#"), file: "d")
        }
        #expect(throws: DisksConfigurationError.self) {
            try DisksConfiguration(parsing: Self.minimal.replacingOccurrences(of: "= 8", with: "= 0"), file: "d")
        }
    }

    @Test("any text either parses or is refused with a located error, never a crash")
    func configurationProperty() async {
        let words =
            Self.minimal.split(separator: "\n").map(String.init) + [
                "scrub-every = 1s", "scrub-every = 99999999999999999999d", "rebuild-rate = 9999999999999G", "= x", "#",
                "\u{0}", "console-uid = 4294967296", "storage-owner = 1:2:3", "data-shards = 65",
            ]
        await propertyCheck(count: 2000, input: Gen.element(of: words).array(of: 0...12)) { lines in
            let text = lines.compactMap { $0 }.joined(separator: "\n")
            do {
                let configuration = try DisksConfiguration(parsing: text, file: "p")
                #expect((1...64).contains(configuration.dataShards))
            } catch {
                #expect("\(error)".hasPrefix("p"), "\(error)")
            }
        }
    }
}
