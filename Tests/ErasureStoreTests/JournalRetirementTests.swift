import CryptoPrimitives
import DurableFiles
import Foundation
import StoreFormat
import StreamStore
import SystemPackage
import Testing

@testable import ErasureStore

/// What journals leave on a member once they are no longer needed: nothing the journal key opens, and, for a stream
/// that stopped early in a segment, no more than its records.
@Suite("JournalRetirementTests: retired journals tell nothing and tiny streams stay tiny")
struct JournalRetirementTests {
    static let stream = try! StreamName("ee.courts.register")

    /// The attacker holds a pulled member and the journal key: every spare in its pool is read as a journal would be,
    /// and every record it still holds is tried with the key that journal key gives.
    @Test("a retired journal in a pool opens with the journal key in hand to nothing")
    func retiredSparesTellNothing() throws {
        let fixture = try ArrayFixture()
        defer { fixture.remove() }
        let store = try fixture.open()
        let segment = fixture.geometry.segmentBytes
        let data = PatternGenerator(seed: 73).bytesOnce(segment + 50_000)
        let appender = try store.openAppender(for: Self.stream)
        var offset = 0
        // Small durable appends: segment 0 has a journal, retired to the pools once its shards are durable.
        while offset < data.count {
            let end = min(data.count, offset + 40_000)
            try appender.append(Array(data[offset..<end]))
            _ = try appender.makeDurable()
            offset = end
        }
        appender.close()
        #expect(fixture.journalFiles(Self.stream, segment: 0).isEmpty, "segment 0's journal was not retired")

        let headerBytes = JournalHeader.encodedCount(nameBytes: Self.stream.rawValue.utf8.count)
        var retiredSeen = 0
        var recordsOpened = 0
        for member in fixture.members {
            let pool = MemberLayout(root: member).journalPool
            for name in try FileSystemCalls.entries(of: pool) {
                let bytes = try FileSystemCalls.readAll(pool.appending(name))
                // A spare made of zeros never was a journal; a retired one still holds its records' ciphertext.
                if bytes.contains(where: { $0 != 0 }) { retiredSeen += 1 }
                if bytes.count >= headerBytes, bytes[..<headerBytes].contains(where: { $0 != 0 }) {
                    Issue.record("spare \(name) on \(member) still holds a header")
                }
                guard let (header, start) = try? JournalHeader.decode(bytes) else { continue }
                let key = try header.recordKey(journalKey: fixture.keys.journalKey)
                let (records, _) = JournalRecord.parseAll(bytes, from: start, header: header)
                for (index, record) in records.enumerated()
                where (try? record.open(index: UInt64(index), header: header, key: key)) != nil {
                    recordsOpened += 1
                }
            }
        }
        #expect(retiredSeen >= fixture.geometry.parityShards + 1, "segment 0's journal copies did not reach the pools")
        #expect(recordsOpened == 0, "\(recordsOpened) records of retired journals opened with the journal key")
        #expect(try fixture.open().openReader(for: Self.stream).readAll() == data)
    }

    /// Recovery removes the journal of a segment whose shards are durable; a descriptor held open across the removal
    /// still reads the file, as a forensic read of its freed blocks would.
    @Test("a stale journal that recovery removes is wiped first")
    func staleJournalIsWipedBeforeRemoval() throws {
        let fixture = try ArrayFixture()
        defer { fixture.remove() }
        let store = try fixture.open()
        let segment = fixture.geometry.segmentBytes
        let data = PatternGenerator(seed: 79).bytesOnce(segment)
        let appender = try store.openAppender(for: Self.stream)
        try appender.append(data)
        _ = try appender.makeDurable()
        appender.close()
        // What a writer killed between flushing segment 0's shards and retiring its journal leaves.
        var stale = try JournalWriter.create(store: store, stream: Self.stream.rawValue, segment: 0)
        try data[..<8192].withUnsafeBytes { try stale.append($0, at: 0) }
        stale.close()
        let copies = fixture.journalFiles(Self.stream, segment: 0)
        #expect(copies.count == fixture.geometry.parityShards + 1)
        let held = try copies.map { try FileDescriptor.open($0, .readOnly) }
        defer { for descriptor in held { try? descriptor.close() } }

        let reopened = try fixture.open().openAppender(for: Self.stream)
        #expect(reopened.durableLength == UInt64(segment))
        reopened.close()
        #expect(fixture.journalFiles(Self.stream, segment: 0).isEmpty, "recovery kept the stale journal")
        let headerBytes = JournalHeader.encodedCount(nameBytes: Self.stream.rawValue.utf8.count)
        for descriptor in held {
            var header = [UInt8](repeating: 0xFF, count: headerBytes)
            let count = try header.withUnsafeMutableBytes { try descriptor.read(fromAbsoluteOffset: 0, into: $0) }
            #expect(count == headerBytes)
            #expect(header.allSatisfy { $0 == 0 }, "a removed stale journal kept its header")
        }
    }

    /// Someone with a member in hand leaves, where a stale journal would be, a symbolic link to a file the service may
    /// write: recovery removes the name and leaves the file it points at alone.
    @Test("a stale journal that is a symbolic link is removed, and what it points at is not wiped")
    func staleJournalLinkIsNotFollowed() throws {
        let fixture = try ArrayFixture()
        defer { fixture.remove() }
        let store = try fixture.open()
        let data = PatternGenerator(seed: 89).bytesOnce(fixture.geometry.segmentBytes)
        let appender = try store.openAppender(for: Self.stream)
        try appender.append(data)
        _ = try appender.makeDurable()
        appender.close()
        let victim = "\(fixture.scratch.path)/victim"
        let original = [UInt8](repeating: 0xAB, count: 4096)
        try Data(original).write(to: URL(fileURLWithPath: victim))
        let member = store.placement.journalMembers(segment: 0, stream: Self.stream.rawValue)[0]
        let link = MemberLayout(root: fixture.members[member]).journal(Self.stream.rawValue, segment: 0)
        try FileManager.default.createSymbolicLink(atPath: link.string, withDestinationPath: victim)

        let reopened = try fixture.open().openAppender(for: Self.stream)
        #expect(reopened.durableLength == UInt64(data.count))
        reopened.close()
        #expect(fixture.journalFiles(Self.stream, segment: 0).isEmpty, "recovery kept the stale name")
        #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: victim))) == original, "the linked file was wiped")
    }

    @Test("a stream closed a few bytes into a segment keeps its records on the journal members, not spares")
    func tinyStreamKeepsOnlyItsRecords() throws {
        let fixture = try ArrayFixture()
        defer { fixture.remove() }
        let store = try fixture.open()
        let data = PatternGenerator(seed: 83).bytesOnce(300)
        let appender = try store.openAppender(for: Self.stream)
        try appender.append(Array(data[..<100]))
        _ = try appender.makeDurable()
        // While open, the journal is a spare's length: records go over blocks it owns.
        for copy in fixture.journalFiles(Self.stream, segment: 0) {
            #expect(try FileSystemCalls.size(at: copy) == UInt64(store.journalPool.capacity))
        }
        try appender.append(Array(data[100...]))
        _ = try appender.makeDurable()
        appender.close()

        let bound = UInt64(
            JournalHeader.encodedCount(nameBytes: Self.stream.rawValue.utf8.count) + 2 * JournalRecord.framingBytes
                + data.count)
        let copies = fixture.journalFiles(Self.stream, segment: 0)
        #expect(copies.count == fixture.geometry.parityShards + 1)
        for copy in copies {
            #expect(try FileSystemCalls.size(at: copy) == bound, "\(copy)")
        }
        // Cut back, the journal still holds every acknowledged byte, and the stream goes on from it.
        let again = try fixture.open().openAppender(for: Self.stream)
        #expect(again.durableLength == UInt64(data.count))
        try again.append([7, 7, 7])
        _ = try again.makeDurable()
        again.close()
        #expect(try fixture.open().openReader(for: Self.stream).readAll() == data + [7, 7, 7])
    }
}
