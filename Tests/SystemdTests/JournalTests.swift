import Foundation
import Systemd
import TestSupport
import Testing

struct JournalTests {
    /// Where a journald runs, the entry must be readable back from it, with its own fields.
    @Test(.enabled(if: TestEnvironment.hasJournalSocket, "no journald socket at /run/systemd/journal/socket"))
    func sendsToTheRunningJournald() throws {
        let id = UUID().uuidString
        try Journal.send(
            message: "saatkond journal test \(id)", priority: .notice,
            fields: ["SAATKOND_TEST": "JournalTests", "SAATKOND_TEST_ID": id]
        )
        var found = ""
        for _ in 0..<50 {
            found = (try? Command.run("journalctl", ["--no-pager", "-o", "cat", "SAATKOND_TEST_ID=\(id)"])) ?? ""
            if found.contains(id) { break }
            usleep(100_000)
        }
        #expect(found.contains("saatkond journal test \(id)"), "journalctl did not show the entry: \(found)")
    }

    /// A service started outside systemd must be able to log without failing; libsystemd drops the entry.
    @Test(.enabled(if: !TestEnvironment.hasJournalSocket, "a journald socket exists"))
    func sendWithoutJournaldDoesNotThrow() throws {
        try Journal.send(message: "saatkond journal test \(UUID().uuidString)", priority: .debug)
    }

    /// Without a journald, stand in for it: the entry must arrive on its socket in the native journal protocol.
    @Test(.enabled(if: !TestEnvironment.hasJournalSocket && TestEnvironment.isRoot, "needs root and no journald"))
    func sendsTheEntryOverTheJournalProtocol() throws {
        let directories = try createMissingDirectories(for: TestEnvironment.journalSocketPath)
        defer {
            for directory in directories.reversed() { try? FileManager.default.removeItem(atPath: directory) }
        }
        let socket = try DatagramSocket(path: TestEnvironment.journalSocketPath)
        defer { socket.remove() }
        let message = "saatkond journal test \(UUID().uuidString)"

        try Journal.send(
            message: message, priority: .warning,
            fields: ["SAATKOND_DISK": "loop3", "SAATKOND_DETAIL": "first line\nsecond line"]
        )

        let datagram = try #require(socket.receive(timeout: .seconds(5)) { $0.contains(text: "MESSAGE=\(message)\n") })
        #expect(datagram.contains(text: "PRIORITY=\(LOG_WARNING)\n"))
        #expect(datagram.contains(text: "SAATKOND_DISK=loop3\n"))
        // A value with a newline cannot use KEY=value framing; it goes as KEY, newline, 64-bit length, raw bytes.
        #expect(datagram.contains(text: "SAATKOND_DETAIL\n"))
        #expect(datagram.contains(text: "first line\nsecond line\n"))
    }

    @Test(arguments: [
        "", "lower", "_TRUSTED", "1ST", "WITH-DASH", "WITH SPACE", "ÄÖ", String(repeating: "A", count: 65),
    ])
    func invalidFieldNamesAreRejected(name: String) {
        #expect(!Journal.isValidFieldName(name))
        #expect(throws: SystemdError.invalidFieldName(name)) {
            try Journal.send(message: "never sent", priority: .debug, fields: [name: "value"])
        }
    }

    @Test(arguments: ["MESSAGE", "PRIORITY"])
    func fieldsTheWrapperSetsItselfAreRejected(name: String) {
        #expect(throws: SystemdError.invalidFieldName(name)) {
            try Journal.send(message: "never sent", priority: .debug, fields: [name: "value"])
        }
    }

    @Test(arguments: ["A", "SAATKOND_DISK", "CODE_LINE", "X1_2", String(repeating: "A", count: 64)])
    func validFieldNamesAreAccepted(name: String) {
        #expect(Journal.isValidFieldName(name))
    }

    @Test func prioritiesAreTheSyslogLevels() {
        let syslog = [LOG_EMERG, LOG_ALERT, LOG_CRIT, LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG]
        #expect(JournalPriority.allCases.map { Int32($0.rawValue) } == syslog.map { Int32($0) })
    }

    /// Creates the missing ancestors of `path`, outermost first, and returns them so the caller can remove them.
    private func createMissingDirectories(for path: String) throws -> [String] {
        var missing: [String] = []
        var directory = (path as NSString).deletingLastPathComponent
        while !FileManager.default.fileExists(atPath: directory) {
            missing.insert(directory, at: 0)
            directory = (directory as NSString).deletingLastPathComponent
        }
        for directory in missing {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        }
        return missing
    }
}
