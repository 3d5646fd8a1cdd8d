import DurableFiles
import Foundation
import SystemPackage
import TestSupport
import Testing

@testable import CustodyLog

/// The log's copies on the members: caught up when attached, written with every append, never ahead of the log; a
/// copy that is not a prefix of the log is set aside (never deleted), and an empty log (a new system disk) takes a
/// member's chain. Records copied from another service's log keep their place in that log's chain.
@Suite("Custody log copies and imports")
struct CustodyLogCopiesTests {
    private func withDirectory(_ body: (String) throws -> Void) throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-custody-copies")
        defer { scratch.remove() }
        try body(scratch.path)
    }

    private func bytes(_ path: String) throws -> [UInt8] { try FileSystemCalls.readAll(FilePath(path)) }

    @Test("a copy attached late is caught up, then takes every append; a failed copy leaves the set")
    func copiesFollowTheLog() throws {
        try withDirectory { directory in
            let log = try CustodyLog(path: FilePath("\(directory)/custody.log"))
            try log.append(CustodyEvent("disk.inserted", ["bay": "1"]))
            try FileManager.default.createDirectory(atPath: "\(directory)/m1", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: "\(directory)/m2", withIntermediateDirectories: true)
            let first = try log.attachCopy(at: FilePath("\(directory)/m1/audit.log"))
            guard case .caughtUp(let caught)? = first else {
                Issue.record("attaching a new copy: \(String(describing: first))")
                return
            }
            #expect(caught > 0)
            #expect(try log.attachCopy(at: FilePath("\(directory)/m1/audit.log")) == nil)
            try log.append(CustodyEvent("disk.inserted", ["bay": "2"]))
            // A copy that missed the last append (its disk was away) is caught up when it comes back.
            try Array(try bytes("\(directory)/m1/audit.log").prefix(10)).withUnsafeBytes {
                try FileSystemCalls.writeAtomically($0, to: FilePath("\(directory)/m2/audit.log"))
            }
            #expect(try log.attachCopy(at: FilePath("\(directory)/m2/audit.log")) != nil)
            try log.append(CustodyEvent("key.unsealed", [:]))
            let original = try bytes("\(directory)/custody.log")
            #expect(try bytes("\(directory)/m1/audit.log") == original)
            #expect(try bytes("\(directory)/m2/audit.log") == original)
            #expect(log.copyPaths.count == 2)

            // The disk under m2 goes: its copy cannot be written, and the log goes on without it.
            try FileManager.default.removeItem(atPath: "\(directory)/m2")
            log.detachCopy(at: FilePath("\(directory)/m2/audit.log"))
            try log.append(CustodyEvent("disk.removed", ["bay": "2"]))
            #expect(log.copyPaths == [FilePath("\(directory)/m1/audit.log")])
            #expect(try bytes("\(directory)/m1/audit.log") == (try bytes("\(directory)/custody.log")))
            #expect(try CustodyLog.verify(try bytes("\(directory)/m1/audit.log")).count == 4)
        }
    }

    @Test("a copy that is not a prefix of the log is set aside under another name, and a true copy takes its place")
    func divergentCopiesAreSetAside() throws {
        try withDirectory { directory in
            let log = try CustodyLog(path: FilePath("\(directory)/custody.log"))
            try log.append(CustodyEvent("disk.inserted", ["bay": "1"]))
            try log.append(CustodyEvent("disk.inserted", ["bay": "2"]))
            let original = try bytes("\(directory)/custody.log")
            // One byte altered; and a copy with a record this log never had (a technician's forgery on a pulled disk).
            var altered = original
            altered[20] ^= 0x01
            var longer = original
            longer += Array("{\"forged\":true}\n".utf8)
            for (name, contents) in [("altered", altered), ("longer", longer)] {
                try FileManager.default.createDirectory(
                    atPath: "\(directory)/\(name)", withIntermediateDirectories: true)
                try contents.withUnsafeBytes {
                    try FileSystemCalls.writeAtomically($0, to: FilePath("\(directory)/\(name)/audit.log"))
                }
                let attachment = try log.attachCopy(at: FilePath("\(directory)/\(name)/audit.log"))
                guard case .setAside(let aside, let reason)? = attachment else {
                    Issue.record("\(name): \(String(describing: attachment))")
                    continue
                }
                #expect(try bytes(aside.string) == contents, "the evidence is kept as it was")
                #expect(try bytes("\(directory)/\(name)/audit.log") == original)
                #expect(reason.contains(name == "altered" ? "differs" : "never had"), "\(reason)")
            }
        }
    }

    @Test("an empty log (a new system disk) takes a member's verified chain and goes on from its head")
    func emptyLogAdoptsACopy() throws {
        try withDirectory { directory in
            try FileManager.default.createDirectory(atPath: "\(directory)/old", withIntermediateDirectories: true)
            let head: CustodyRecord
            do {
                let old = try CustodyLog(path: FilePath("\(directory)/old/custody.log"))
                try old.attachCopy(at: FilePath("\(directory)/old/audit.log"))
                try old.append(CustodyEvent("disk.inserted", ["bay": "1"]))
                head = try old.append(CustodyEvent("array.formed", ["k": "8"]))
                old.close()
            }
            // A torn last line on the copy: a crash mid-append before the system disk was lost.
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(directory)/old/audit.log"))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data("{\"event\":\"to".utf8))
            try handle.close()

            let log = try CustodyLog(path: FilePath("\(directory)/custody.log"))
            let attachment = try log.attachCopy(at: FilePath("\(directory)/old/audit.log"))
            #expect(attachment == .adopted(records: 2))
            #expect(log.head == head)
            let next = try log.append(CustodyEvent("disk.inserted", ["bay": "3"]))
            #expect(next.seq == 3)
            #expect(try bytes("\(directory)/old/audit.log") == (try bytes("\(directory)/custody.log")))
            #expect(try CustodyLog.verify(try bytes("\(directory)/custody.log")).count == 3)
        }
    }

    @Test("records of another service's log are copied once each, in order, with their place in its chain")
    func importsKeepTheirOrigin() throws {
        try withDirectory { directory in
            let keys = try CustodyLog(path: FilePath("\(directory)/keys-audit.log"))
            let log = try CustodyLog(path: FilePath("\(directory)/custody.log"))
            let source = FilePath("\(directory)/keys-audit.log")
            #expect(try log.importRecords(of: FilePath("\(directory)/absent.log"), as: "keys") == 0)
            let sealed = try keys.append(CustodyEvent("keys.sealed", ["pcrs": "7"]))
            try keys.append(CustodyEvent("keys.unsealed", [:]))
            #expect(try log.importRecords(of: source, as: "keys") == 2)
            #expect(try log.importRecords(of: source, as: "keys") == 0)
            try log.append(CustodyEvent("disk.inserted", ["bay": "1"]))
            try keys.append(CustodyEvent("keys.locked", ["reason": "PCR 7 changed"]))
            #expect(try log.importRecords(of: source, as: "keys") == 1)
            let records = try CustodyLog.verify(try bytes("\(directory)/custody.log"))
            #expect(records.map(\.event) == ["keys.sealed", "keys.unsealed", "disk.inserted", "keys.locked"])
            #expect(records[0].fields["origin-hash"] == sealed.hash && records[0].fields["pcrs"] == "7")
            #expect(records[3].fields["origin-seq"] == "3")
            keys.close()

            // Reopened, the log still knows where the copying stopped.
            log.close()
            let reopened = try CustodyLog(path: FilePath("\(directory)/custody.log"))
            #expect(try reopened.importRecords(of: source, as: "keys") == 0)

            // The source rewritten from its start (a new chain of the same length and more): refused, nothing copied.
            try FileManager.default.removeItem(atPath: source.string)
            let forged = try CustodyLog(path: source)
            for _ in 0..<4 { try forged.append(CustodyEvent("keys.unsealed", [:])) }
            #expect(throws: CustodyLogError.self) { try reopened.importRecords(of: source, as: "keys") }
            #expect(reopened.head?.seq == 4)
        }
    }

    @Test("later looks read only what the source gained; a source whose last copied line changed is refused")
    func importsGoOnFromWhereTheyStopped() throws {
        try withDirectory { directory in
            let source = FilePath("\(directory)/keys-audit.log")
            let keys = try CustodyLog(path: source)
            let log = try CustodyLog(path: FilePath("\(directory)/custody.log"))
            try keys.append(CustodyEvent("keys.sealed", [:]))
            #expect(try log.importRecords(of: source, as: "keys") == 1)
            try keys.append(CustodyEvent("keys.unsealed", [:]))
            try keys.append(CustodyEvent("keys.locked", ["reason": "PCR 7"]))
            #expect(try log.importRecords(of: source, as: "keys") == 2)
            #expect(try log.importRecords(of: source, as: "keys") == 0)
            keys.close()
            let original = try bytes(source.string)
            var tampered = original
            tampered[tampered.count - 10] ^= 0x01
            try tampered.withUnsafeBytes { try FileSystemCalls.writeAtomically($0, to: source) }
            #expect(throws: CustodyLogError.self) { try log.importRecords(of: source, as: "keys") }
            try original.withUnsafeBytes { try FileSystemCalls.writeAtomically($0, to: source) }
            #expect(try log.importRecords(of: source, as: "keys") == 0)
            let records = try CustodyLog.verify(try bytes("\(directory)/custody.log"))
            #expect(records.map { $0.fields["origin-seq"] } == ["1", "2", "3"])
        }
    }
}
