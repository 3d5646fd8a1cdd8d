import CustodyLog
import DurableFiles
import Foundation
import PropertyBased
import SystemPackage
import TestSupport
import Testing

/// Verification reads files that anyone with the disk may have edited: whatever the bytes, it returns records or
/// throws an error naming a line, never crashes; and a change to a valid log is always caught.
@Suite("Custody log verification of arbitrary bytes")
struct CustodyLogPropertyTests {
    private static func validLog() throws -> [UInt8] {
        let scratch = try ScratchDirectory(prefix: "saatkond-custody-property")
        defer { scratch.remove() }
        let path = FilePath("\(scratch.path)/custody.log")
        let log = try CustodyLog(path: path)
        for bay in 0..<6 {
            try log.append(CustodyEvent("disk.inserted", ["bay": "\(bay)", "wwn": "0x5000c500a1b2c3d\(bay)"]))
        }
        return try FileSystemCalls.readAll(path)
    }

    @Test("arbitrary bytes: records or a located error")
    func arbitraryBytes() async {
        let alphabet = Array(#"{}[]":,\n0123456789abcdefseqtimehash prev"#.utf8) + [0, 0xff, 0x0a]
        await propertyCheck(count: 2000, input: Gen.element(of: alphabet).array(of: 0...400)) { bytes in
            do {
                let records = try CustodyLog.verify(bytes.compactMap { $0 })
                #expect(records.isEmpty == bytes.isEmpty)
            } catch {
                #expect("\(error)".hasPrefix("custody log"))
            }
        }
    }

    @Test("a valid log with any bytes changed, cut or inserted is refused, and never crashes")
    func mutatedLog() async throws {
        let valid = try Self.validLog()
        #expect(try CustodyLog.verify(valid).count == 6)
        await propertyCheck(count: 1500, input: Gen.uint32().array(of: 1...4), Gen.uint8().array(of: 1...4)) {
            positions, values in
            var bytes = valid
            for (position, value) in zip(positions, values) {
                let index = Int(position) % bytes.count
                switch value % 3 {
                case 0: bytes[index] = bytes[index] == value ? value &+ 1 : value
                case 1: bytes.remove(at: index)
                default: bytes.insert(value, at: index)
                }
            }
            do {
                let records = try CustodyLog.verify(bytes)
                // The only changes that still verify are none at all (a byte put back as it was).
                #expect(bytes == valid, "a changed log verified: \(records.count) records")
            } catch {
                #expect((error as? CustodyLogError)?.line != nil, "\(error)")
            }
            _ = try? CustodyLog.verify(excerpt: bytes, endingAt: String(repeating: "a", count: 64))
        }
    }
}

/// A member's copy is a file a technician may have held: whatever its bytes, attaching it never harms the log, never
/// loses the copy's bytes, and leaves a copy that is the log, byte for byte.
@Suite("Custody log copies of arbitrary bytes")
struct CustodyLogCopyPropertyTests {
    @Test("a mutated or random copy is caught up, adopted or set aside; the log always verifies after")
    func arbitraryCopies() async throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-custody-copy-property")
        defer { scratch.remove() }
        let source = FilePath("\(scratch.path)/source.log")
        let writer = try CustodyLog(path: source)
        for bay in 0..<4 { try writer.append(CustodyEvent("disk.inserted", ["bay": "\(bay)"])) }
        writer.close()
        let valid = try FileSystemCalls.readAll(source)
        let round = Counter()
        await propertyCheck(
            count: 300, input: Gen.uint32().array(of: 0...3), Gen.uint8().array(of: 0...3), Gen.bool
        ) { positions, values, emptyLog in
            var bytes = valid
            for (position, value) in zip(positions, values) where !bytes.isEmpty {
                let index = Int(position) % bytes.count
                if value % 2 == 0 { bytes[index] = value } else { bytes.removeSubrange(index...) }
            }
            let directory = "\(scratch.path)/\(round.next())"
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                let log = try CustodyLog(path: FilePath("\(directory)/custody.log"))
                defer { log.close() }
                if !emptyLog { try log.append(CustodyEvent("service.started", ["service": "disks"])) }
                let before = try FileSystemCalls.readAll(FilePath("\(directory)/custody.log"))
                try bytes.withUnsafeBytes {
                    try FileSystemCalls.writeAtomically($0, to: FilePath("\(directory)/audit.log"))
                }
                let attachment = try log.attachCopy(at: FilePath("\(directory)/audit.log"))
                let after = try FileSystemCalls.readAll(FilePath("\(directory)/custody.log"))
                _ = try CustodyLog.verify(after)
                #expect(try FileSystemCalls.readAll(FilePath("\(directory)/audit.log")) == after)
                switch attachment {
                case .caughtUp?: #expect(before == after && Array(after.prefix(bytes.count)) == bytes)
                case .adopted?: #expect(before.isEmpty && Array(bytes.prefix(after.count)) == after)
                case .setAside(let aside, _)?: #expect(try FileSystemCalls.readAll(aside) == bytes && before == after)
                case nil: Issue.record("a new copy was already attached")
                }
            } catch {
                Issue.record("\(error)")
            }
        }
    }
}
