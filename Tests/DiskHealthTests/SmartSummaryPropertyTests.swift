import DiskHealth
import PropertyBased
import Testing

/// smartctl's output is read by a service with the right to mount disks: whatever bytes it gets, from a broken
/// smartctl or a hostile disk's strings, give a summary or a ``SmartParseError``, never a crash or a hang.
@Suite("SMART summaries of arbitrary bytes")
struct SmartSummaryPropertyTests {
    @Test("arbitrary bytes give a summary or a parse error")
    func arbitraryBytes() async {
        await propertyCheck(count: 2000, input: Gen.uint8().array(of: 0...300)) { bytes in
            check(bytes)
        }
    }

    @Test("real fixtures with bytes changed, cut or repeated give a summary or a parse error")
    func mutatedFixtures() async throws {
        let fixtures = try Fixture.all.map { try Fixture.bytes($0) }
        #expect(fixtures.count >= 10)
        await propertyCheck(
            count: 1500, input: Gen.int(in: 0...1000), Gen.uint32().array(of: 1...6), Gen.uint8().array(of: 1...6)
        ) { which, positions, values in
            var bytes = fixtures[which % fixtures.count]
            for (position, value) in zip(positions, values) {
                let index = Int(position) % bytes.count
                switch value % 4 {
                case 0: bytes[index] = value
                case 1: bytes.removeSubrange(index...)
                case 2: bytes.insert(contentsOf: Array("{\"a\":[".utf8), at: index)
                default: bytes[index] = UInt8(ascii: "9")
                }
                if bytes.isEmpty { break }
            }
            check(bytes)
        }
    }

    private func check(_ bytes: [UInt8]) {
        do {
            let summary = try SmartSummary(json: bytes, exitStatus: nil)
            #expect(summary.verdict == .healthy ? summary.reasons.isEmpty : !summary.reasons.isEmpty)
            #expect((summary.model?.count ?? 0) <= 64)
        } catch {
            #expect(!error.description.isEmpty)
        }
    }
}
