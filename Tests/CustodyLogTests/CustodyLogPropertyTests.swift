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
