import DurableFiles
import Foundation
import StoreFormat
import StreamStore
import SystemPackage
import Testing

@testable import ErasureStore

/// The faults no loop device produces on demand, injected into one member's calls (``InjectedFaults``): an error
/// from a flush or a write of one journal copy or one shard, and writes the kernel accepts only in part. Each shows
/// that the append fails with the member named, that nothing acknowledged is harmed, and that the stream goes on
/// once the fault is gone.
@Suite("Injected faults: EIO, ENOSPC and short writes on one member")
struct InjectedFaultTests {
    private static let stream = try! StreamName("ee.faults")

    private struct Case: Sendable, CustomTestStringConvertible {
        var fault: InjectedFaults.Fault
        var call: InjectedFaults.Call
        /// Whether the failing durable point writes whole segments (shards) or only a journal record.
        var bulk: Bool

        var testDescription: String {
            "\(fault) on the \(call) of \(bulk ? "a shard" : "a journal copy")"
        }
    }

    @Test(
        "a failing call fails the durable point and names the member; the acknowledged bytes stay, and appending resumes",
        arguments: [
            Case(fault: .error(.ioError), call: .flush, bulk: false),
            Case(fault: .error(.ioError), call: .flush, bulk: true),
            Case(fault: .error(.noSpace), call: .write, bulk: false),
            Case(fault: .error(.noSpace), call: .write, bulk: true),
            Case(fault: .error(.ioError), call: .write, bulk: true),
            Case(fault: .error(.noSpace), call: .open, bulk: true),
        ])
    private func failingCall(_ testCase: Case) throws {
        let fixture = try ArrayFixture()
        defer { fixture.remove() }
        let segment = fixture.geometry.segmentBytes
        var generator = PatternGenerator(seed: 41)
        let bytes = generator.bytes(4 * segment)
        let first = segment + segment / 2

        let store = try fixture.open()
        defer { store.shutdown() }
        let appender = try store.openAppender(for: Self.stream)
        try appender.append(Array(bytes[..<first]))
        let acknowledged = try appender.makeDurable()
        #expect(acknowledged == UInt64(first))

        // The member that the next durable point must reach: the first shard of the next full segment, or the first
        // copy of the open segment's journal.
        let next = first + (testCase.bulk ? segment : 4096)
        let member =
            testCase.bulk
            ? store.placement.member(ofShard: 0, segment: UInt64(next / segment) - 1, stream: Self.stream.rawValue)
            : store.placement.journalMembers(segment: UInt64(first / segment), stream: Self.stream.rawValue)[0]
        // An open that fails is the shard's or the journal's, in the stream's directory: the member's label still
        // opens, so the member is present, and its failure fails the durable point (a member whose label cannot be
        // opened is absent, and appends go on without it: see DegradedWriteTests).
        let fault = InjectedFaults.inject(
            testCase.fault, into: testCase.call,
            under: fixture.members[member].string + (testCase.call == .open ? "/streams/" : "/"))
        defer { InjectedFaults.remove(fault) }
        do {
            try appender.append(Array(bytes[first..<next]))
            let promised = try appender.makeDurable()
            Issue.record("the durable point succeeded (\(promised)) though member \(member) failed")
        } catch {
            #expect("\(error)".contains("member \(member)"), "\(error)")
        }
        #expect(InjectedFaults.hits(fault) > 0, "no call met the fault")
        #expect(throws: StreamStorageError.self) { try appender.append([1, 2, 3]) }
        appender.close()
        InjectedFaults.remove(fault)

        let reopened = try fixture.open()
        defer { reopened.shutdown() }
        let resumed = try reopened.openAppender(for: Self.stream)
        #expect(resumed.durableLength >= acknowledged)
        let held = Int(resumed.durableLength)
        try resumed.append(Array(bytes[held...]))
        #expect(try resumed.makeDurable() == UInt64(bytes.count))
        resumed.close()
        #expect(try reopened.openReader(for: Self.stream).readAll() == bytes)
    }

    @Test("a label that exists but cannot be read (EIO): reported as unreadable, never adopted over as blank")
    func unreadableLabel() throws {
        let fixture = try ArrayFixture()
        defer { fixture.remove() }
        let label = MemberLayout(root: fixture.members[2]).identity
        let before = try FileSystemCalls.readAll(label)
        let fault = InjectedFaults.inject(.error(.ioError), into: .read, under: label.string)
        defer { InjectedFaults.remove(fault) }
        let store = try fixture.open()
        #expect(store.assembly.unreadable == [fixture.members[2]])
        #expect(store.assembly.unlabelled.isEmpty)
        #expect(store.assembly.description.contains("label unreadable"))
        #expect(throws: StreamStorageError.self) { try store.adoptReplacement(fixture.members[2], as: 2) }
        #expect(InjectedFaults.hits(fault) > 0)
        InjectedFaults.remove(fault)
        #expect(try FileSystemCalls.readAll(label) == before, "the label was written over")
        #expect(try fixture.open().assembly.isComplete)
        // A truly blank directory is still adopted.
        try fixture.wipe(2)
        try store.adoptReplacement(fixture.members[2], as: 2)
        #expect(try fixture.open().assembly.isComplete)
    }

    @Test("an unreadable journal copy refuses appending, keeps every acknowledged byte readable, is never rewritten")
    func unreadableJournalCopy() throws {
        let fixture = try ArrayFixture()
        defer { fixture.remove() }
        var generator = PatternGenerator(seed: 47)
        let bytes = generator.bytes(5_000)
        do {
            let store = try fixture.open()
            defer { store.shutdown() }
            let appender = try store.openAppender(for: Self.stream)
            try appender.append(Array(bytes[..<3_000]))
            _ = try appender.makeDurable()
            try appender.append(Array(bytes[3_000...]))
            #expect(try appender.makeDurable() == 5_000)
            // Killed, not closed: the journal keeps its full length, as after a crash.
        }
        let store = try fixture.open()
        defer { store.shutdown() }
        let copies = store.placement.journalMembers(segment: 0, stream: Self.stream.rawValue)
        let victim = copies[1]
        let path = MemberLayout(root: fixture.members[victim]).journal(Self.stream.rawValue, segment: 0).string
        let others = copies.filter { $0 != victim }.map {
            MemberLayout(root: fixture.members[$0]).journal(Self.stream.rawValue, segment: 0).string
        }
        let before = try others.map { try Data(contentsOf: URL(fileURLWithPath: $0)) }
        // Unreadable without privileges: a directory where the copy was (EISDIR), the copy kept aside.
        try FileManager.default.moveItem(atPath: path, toPath: path + ".aside")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)

        let error = try #require(throws: StreamStorageError.self) { try store.openAppender(for: Self.stream) }
        #expect("\(error)".contains("member \(victim)") && "\(error)".contains("cannot read"), "\(error)")
        #expect(try store.openReader(for: Self.stream).readAll() == bytes)
        #expect(try others.map { try Data(contentsOf: URL(fileURLWithPath: $0)) } == before, "a copy was rewritten")

        try FileManager.default.removeItem(atPath: path)
        try FileManager.default.moveItem(atPath: path + ".aside", toPath: path)
        let appender = try store.openAppender(for: Self.stream)
        defer { appender.close() }
        #expect(appender.durableLength == 5_000)
    }

    @Test("writes that the kernel accepts 4 KiB at a time, on every member: every byte lands, and reads back")
    func shortWrites() throws {
        let fixture = try ArrayFixture()
        defer { fixture.remove() }
        let segment = fixture.geometry.segmentBytes
        var generator = PatternGenerator(seed: 43)
        let bytes = generator.bytes(3 * segment + 10_000)
        let faults = fixture.members.map {
            InjectedFaults.inject(.shortWrite(bytes: 4096), into: .write, under: $0.string + "/")
        }
        defer { faults.forEach(InjectedFaults.remove) }

        let store = try fixture.open()
        defer { store.shutdown() }
        let appender = try store.openAppender(for: Self.stream)
        // Small appends first, so that journal records are written short too, then whole segments.
        for start in stride(from: 0, to: 20_000, by: 5_000) {
            try appender.append(Array(bytes[start..<(start + 5_000)]))
            _ = try appender.makeDurable()
        }
        try appender.append(Array(bytes[20_000...]))
        #expect(try appender.makeDurable() == UInt64(bytes.count))
        appender.close()
        #expect(faults.map(InjectedFaults.hits).reduce(0, +) > 100, "the writes were not cut short")
        faults.forEach(InjectedFaults.remove)

        let reopened = try fixture.open()
        defer { reopened.shutdown() }
        #expect(try reopened.openReader(for: Self.stream).readAll() == bytes)
    }
}
