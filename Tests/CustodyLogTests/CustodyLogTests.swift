import CryptoPrimitives
import DurableFiles
import Foundation
import Synchronization
import SystemPackage
import TestSupport
import Testing

@testable import CustodyLog

/// The chain of custody on a real file: appended durably, read back and verified on every opening, and every way it
/// can be tampered with (a field altered, a line removed, moved or cut) caught and named by its line.
@Suite("Custody log")
struct CustodyLogTests {
    /// A clock that moves on by 1.5 s per reading, from 2026-12-05T23:58:50Z.
    private static func clock() -> @Sendable () -> Date {
        let ticks = Counter()
        return { Date(timeIntervalSince1970: 1_796_515_130 + 1.5 * Double(ticks.next())) }
    }

    private func withLog(_ body: (FilePath, ScratchDirectory) throws -> Void) throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-custody")
        defer { scratch.remove() }
        try body(FilePath("\(scratch.path)/custody.log"), scratch)
    }

    /// Appends three events: a disk in, an adoption refused, a disk out.
    private func appendThree(_ path: FilePath) throws -> [CustodyRecord] {
        let log = try CustodyLog(path: path, now: Self.clock())
        return [
            try log.append(CustodyEvent("disk.inserted", ["wwn": "0x5000c500a1b2c3d4", "bay": "3"])),
            try log.append(
                CustodyEvent("adoption.refused", ["wwn": "0x5000c500a1b2c3d5", "reason": "foreign \"array\" label"])),
            try log.append(CustodyEvent("disk.removed", ["wwn": "0x5000c500a1b2c3d4", "bay": "3"])),
        ]
    }

    private func lines(_ path: FilePath) throws -> [[UInt8]] {
        try FileSystemCalls.readAll(path).split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
            .dropLast().map(Array.init)
    }

    private func join(_ lines: [[UInt8]]) -> [UInt8] {
        lines.flatMap { $0 + [UInt8(ascii: "\n")] }
    }

    @Test("appended records read back, chained, after a reopen; the file is created 0640 whatever the umask")
    func appendReopenVerify() throws {
        try withLog { path, _ in
            let previous = umask(0o077)
            let records = try appendThree(path)
            umask(previous)
            #expect(records.map(\.seq) == [1, 2, 3])
            #expect(records[0].prev == String(repeating: "0", count: 64))
            #expect(records[0].time == "2026-12-05T23:58:50.000Z")
            #expect(records[1].time == "2026-12-05T23:58:51.500Z")
            var status = stat()
            stat(path.string, &status)
            #expect(status.st_mode & 0o777 == 0o640)

            let contents = try FileSystemCalls.readAll(path)
            #expect(try CustodyLog.verify(contents) == records)
            let fileLines = try lines(path)
            #expect(fileLines[0] == records[0].line)
            #expect(records[1].prev == CustodyRecord.hex(SHA256.hash(fileLines[0])))

            let reopened = try CustodyLog(path: path, now: Self.clock())
            #expect(reopened.head == records[2])
            #expect(reopened.repair == nil)
            let fourth = try reopened.append(CustodyEvent("technician.locate", ["bay": "7"]))
            #expect(fourth.seq == 4)
            #expect(fourth.prev == CustodyRecord.hex(SHA256.hash(fileLines[2])))
            #expect(try CustodyLog.verify(FileSystemCalls.readAll(path)).count == 4)
        }
    }

    @Test("the line format is the documented one, byte for byte, and its hash is over the line without `hash`")
    func documentedFormat() throws {
        try withLog { path, _ in
            let log = try CustodyLog(path: path, now: { Date(timeIntervalSince1970: 1_796_515_130.25) })
            let record = try log.append(CustodyEvent("disk.inserted", ["wwn": "0x5000c500a1b2c3d4", "bay": "3"]))
            let unhashed =
                #"{"event":"disk.inserted","fields":{"bay":"3","wwn":"0x5000c500a1b2c3d4"},"#
                + #""prev":"0000000000000000000000000000000000000000000000000000000000000000","seq":1,"#
                + #""time":"2026-12-05T23:58:50.250Z"}"#
            #expect(String(decoding: record.unhashedLine, as: UTF8.self) == unhashed)
            #expect(record.hash == CustodyRecord.hex(SHA256.hash(Array(unhashed.utf8))))
            let line = try lines(path)[0]
            let expected =
                #"{"event":"disk.inserted","fields":{"bay":"3","wwn":"0x5000c500a1b2c3d4"},"hash":""#
                + record.hash + #"","#
                + #""prev":"0000000000000000000000000000000000000000000000000000000000000000","seq":1,"#
                + #""time":"2026-12-05T23:58:50.250Z"}"#
            #expect(String(decoding: line, as: UTF8.self) == expected)
        }
    }

    @Test("newlines, quotes and control characters in values are escaped; no value can add a line or a member")
    func noInjection() throws {
        try withLog { path, _ in
            let log = try CustodyLog(path: path, now: Self.clock())
            let hostile = "x\"}\n{\"seq\":99,\"event\":\"disk.adopted\"\u{0}\u{1b}[2J\\\u{7f}é\u{2028}"
            let record = try log.append(CustodyEvent("disk.inserted", ["model": hostile]))
            let contents = try FileSystemCalls.readAll(path)
            #expect(contents.filter { $0 == UInt8(ascii: "\n") }.count == 1)
            #expect(!contents.contains(0) && !contents.contains(0x1b))
            let text = String(decoding: contents, as: UTF8.self)
            #expect(text.contains(#"x\"}\n{\"seq\":99,\"event\":\"disk.adopted\"\u0000\u001b[2J\\"#))
            #expect(try CustodyLog.verify(contents) == [record])
            #expect(try CustodyLog.verify(contents)[0].fields["model"] == hostile)
            #expect(throws: CustodyLogError.self) {
                try log.append(CustodyEvent("disk inserted", [:]))
            }
            #expect(throws: CustodyLogError.self) {
                try log.append(CustodyEvent("disk.inserted", ["bad\nname": "x"]))
            }
            #expect(throws: CustodyLogError.self) {
                try log.append(CustodyEvent("disk.inserted", ["big": String(repeating: "x", count: 1025)]))
            }
            #expect(log.head == record, "a refused event appends nothing")
        }
    }

    @Test("an altered field, a removed line, a moved line, a replaced line: each is caught, naming its line")
    func tampering() throws {
        try withLog { path, _ in
            let records = try appendThree(path)
            let original = try lines(path)

            func failure(_ lines: [[UInt8]]) -> CustodyLogError? {
                do {
                    _ = try CustodyLog.verify(join(lines))
                    return nil
                } catch {
                    return error
                }
            }

            // A field altered: the line's own hash no longer matches.
            var altered = original
            altered[1] = Array(
                String(decoding: altered[1], as: UTF8.self).replacingOccurrences(of: "d5", with: "d6").utf8)
            #expect(failure(altered)?.code == .hashMismatch)
            #expect(failure(altered)?.line == 2)
            #expect(failure(altered)?.description.hasPrefix("custody log line 2:") == true)

            // A field altered and its hash recomputed: the next line's prev no longer matches.
            var rehashed = records
            rehashed[1].fields["reason"] = "blank"
            let forged = CustodyRecord(
                seq: 2, time: rehashed[1].time, event: CustodyEvent(rehashed[1].event, rehashed[1].fields),
                prev: rehashed[1].prev)
            var replaced = original
            replaced[1] = forged.line
            #expect(failure(replaced) == CustodyLogError(.brokenChain, line: 3, ""))

            // A line removed, two lines swapped: out of sequence.
            #expect(failure([original[0], original[2]]) == CustodyLogError(.outOfSequence, line: 2, ""))
            #expect(failure([original[0], original[2], original[1]]) == CustodyLogError(.outOfSequence, line: 2, ""))
            // The first line removed: the log no longer starts at its start.
            #expect(failure([original[1], original[2]]) == CustodyLogError(.outOfSequence, line: 1, ""))
            // A line reformatted (same JSON, other spacing): not canonical.
            var spaced = original
            spaced[2] = Array(String(decoding: spaced[2], as: UTF8.self).replacingOccurrences(of: ",", with: ", ").utf8)
            #expect(failure(spaced) == CustodyLogError(.notCanonical, line: 3, ""))
            // Garbage in the middle.
            #expect(failure([original[0], Array("hello".utf8), original[2]])?.line == 2)
            // The last newline missing.
            #expect(throws: CustodyLogError(.incompleteLine, line: 3, "")) {
                try CustodyLog.verify(join(original).dropLast())
            }
        }
    }

    @Test("a tampered log is refused on opening, with its line named, and is not rewritten")
    func tamperedLogRefused() throws {
        try withLog { path, _ in
            _ = try appendThree(path)
            let original = try lines(path)
            let tampered = join([original[0], original[2]])
            try Data(tampered).write(to: URL(fileURLWithPath: path.string))
            #expect(throws: CustodyLogError(.outOfSequence, line: 2, "")) {
                _ = try CustodyLog(path: path)
            }
            #expect(try FileSystemCalls.readAll(path) == tampered, "the evidence is kept as it is")
        }
    }

    @Test("an excerpt verifies against the head it ends at; a cut, a gap or another head is caught")
    func excerpts() throws {
        try withLog { path, _ in
            let records = try appendThree(path)
            let original = try lines(path)
            let head = records[2].hash
            #expect(try CustodyLog.verify(excerpt: join(Array(original[1...])), endingAt: head) == Array(records[1...]))
            #expect(try CustodyLog.verify(excerpt: join([original[2]]), endingAt: head) == [records[2]])
            #expect(throws: CustodyLogError(.headMismatch, line: 1, "")) {
                try CustodyLog.verify(excerpt: join([original[1]]), endingAt: head)
            }
            #expect(throws: CustodyLogError(.headMismatch, line: nil, "")) {
                try CustodyLog.verify(excerpt: [], endingAt: head)
            }
            #expect(throws: CustodyLogError(.incompleteLine, line: 2, "")) {
                try CustodyLog.verify(excerpt: join(Array(original[1...])).dropLast(9), endingAt: head)
            }
            #expect(throws: CustodyLogError(.outOfSequence, line: 2, "")) {
                try CustodyLog.verify(excerpt: join([original[0], original[2]]), endingAt: head)
            }
        }
    }

    @Test("a torn last line (a partial write) is cut off on reopening and reported; every record before it is kept")
    func tornLastLine() throws {
        try withLog { path, _ in
            let records = try appendThree(path)
            let complete = try FileSystemCalls.readAll(path)
            // What a crash in the middle of the fourth append leaves: the first bytes of its line, no newline.
            let next = CustodyRecord(
                seq: 4, time: records[2].time, event: CustodyEvent("disk.inserted", ["bay": "1"]),
                prev: CustodyRecord.hex(SHA256.hash(try lines(path)[2])))
            for cut in [1, 17, next.line.count - 1, next.line.count] {
                try Data(complete + next.line.prefix(cut)).write(to: URL(fileURLWithPath: path.string))
                let log = try CustodyLog(path: path, now: Self.clock())
                #expect(log.repair == CustodyLog.Repair(line: 4, discardedBytes: cut))
                #expect(log.repair?.description.contains("line 4") == true)
                #expect(log.head == records[2])
                #expect(try FileSystemCalls.readAll(path) == complete)
                let appended = try log.append(CustodyEvent("disk.inserted", ["bay": "1"]))
                #expect(appended.seq == 4)
                #expect(try CustodyLog.verify(FileSystemCalls.readAll(path)).count == 4)
                try Data(complete).write(to: URL(fileURLWithPath: path.string))
            }
        }
    }

    @Test("after a failed flush, appends are refused until the log is reopened")
    func failedAppend() throws {
        try withLog { path, scratch in
            let log = try CustodyLog(path: path, now: Self.clock())
            try log.append(CustodyEvent("disk.inserted", ["bay": "1"]))
            let fault = InjectedFaults.inject(.error(.ioError), into: .flush, under: scratch.path)
            #expect(throws: CustodyLogError.self) { try log.append(CustodyEvent("disk.inserted", ["bay": "2"])) }
            #expect(InjectedFaults.hits(fault) == 1)
            InjectedFaults.remove(fault)
            #expect(throws: CustodyLogError.self) { try log.append(CustodyEvent("disk.inserted", ["bay": "3"])) }
            #expect(log.head?.seq == 1)
        }
    }

    @Test("one process appends at a time: a second opening of the same file is refused")
    func exclusive() throws {
        try withLog { path, _ in
            let first = try CustodyLog(path: path)
            #expect(throws: CustodyLogError.self) { _ = try CustodyLog(path: path) }
            _ = first
        }
    }

    @Test("appends from many threads are serialised into one unbroken chain")
    func concurrentAppends() async throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-custody")
        defer { scratch.remove() }
        let path = FilePath("\(scratch.path)/custody.log")
        let log = try CustodyLog(path: path)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<4 {
                group.addTask {
                    for index in 0..<25 { try log.append(CustodyEvent("test.append", ["task": "\(task)-\(index)"])) }
                }
            }
            try await group.waitForAll()
        }
        let records = try CustodyLog.verify(FileSystemCalls.readAll(path))
        #expect(records.count == 100)
        #expect(Set(records.map { $0.fields["task"]! }).count == 100)
        #expect(log.head == records.last)
    }
}

/// A thread-safe counter for the test clock.
final class Counter: Sendable {
    private let value = Mutex(0)

    func next() -> Int {
        value.withLock { value in
            defer { value += 1 }
            return value
        }
    }
}
