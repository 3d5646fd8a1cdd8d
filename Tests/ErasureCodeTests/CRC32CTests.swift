import ErasureCode
import TestSupport
import Testing

@Suite("CRC-32C")
struct CRC32CTests {
    /// One of RFC 3720's appendix B.4 examples. The RFC prints the CRC as the bytes that go on the wire, least
    /// significant byte first, so "aa 36 91 8a" is the value 0x8A9136AA.
    struct KnownAnswer: Sendable, CustomTestStringConvertible {
        let name: String
        let bytes: [UInt8]
        let wire: [UInt8]
        let value: UInt32
        var testDescription: String { name }
    }

    static let rfc3720: [KnownAnswer] = [
        KnownAnswer(
            name: "32 bytes of zeroes", bytes: [UInt8](repeating: 0, count: 32), wire: [0xAA, 0x36, 0x91, 0x8A],
            value: 0x8A91_36AA),
        KnownAnswer(
            name: "32 bytes of ones", bytes: [UInt8](repeating: 0xFF, count: 32), wire: [0x43, 0xAB, 0xA8, 0x62],
            value: 0x62A8_AB43),
        KnownAnswer(
            name: "32 bytes incrementing 00..1f", bytes: (0..<32).map { UInt8($0) }, wire: [0x4E, 0x79, 0xDD, 0x46],
            value: 0x46DD_794E),
        KnownAnswer(
            name: "32 bytes decrementing 1f..00", bytes: (0..<32).reversed().map { UInt8($0) },
            wire: [0x5C, 0xDB, 0x3F, 0x11], value: 0x113F_DB5C),
        KnownAnswer(
            name: "an iSCSI read command PDU",
            bytes: [
                0x01, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18,
                0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            ],
            wire: [0x56, 0x3A, 0x96, 0xD9], value: 0xD996_3A56),
    ]

    @Test("the catalogue check value of \"123456789\"")
    func checkValue() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
    }

    @Test("RFC 3720 appendix B.4 examples", arguments: rfc3720)
    func rfc3720Example(_ example: KnownAnswer) {
        // The wire bytes and the value are the same number; checking both pins down the byte order.
        #expect(withUnsafeBytes(of: example.value.littleEndian) { Array($0) } == example.wire)
        #expect(CRC32C.checksum(example.bytes) == example.value)
        #expect(example.bytes.withUnsafeBytes { CRC32C.checksum($0) } == example.value)
    }

    @Test("the checksum of nothing is 0 and continuing with nothing changes nothing")
    func emptyInput() {
        #expect(CRC32C.checksum([]) == 0)
        #expect(CRC32C.checksum([], continuing: 0xDEAD_BEEF) == 0xDEAD_BEEF)
        #expect(CRC32C.checksum(UnsafeRawBufferPointer(start: nil, count: 0), continuing: 7) == 7)
    }

    @Test("agrees with a bitwise reference for every length up to 300 and at unaligned starts")
    func agreesWithReference() {
        var random = SplitMix64(seed: 0xC3C3)
        let data = random.bytes(300 + 16)
        for length in 0...300 {
            for offset in [0, 1, 3, 7] {
                let slice = data[offset..<offset + length]
                let crc = slice.withUnsafeBytes { CRC32C.checksum($0) }
                #expect(crc == referenceCRC32C(slice), "length \(length), offset \(offset)")
            }
        }
        // Large enough for ISA-L's folding path on CPUs that have it.
        let large = random.bytes(1 << 20)
        #expect(CRC32C.checksum(large) == referenceCRC32C(large))
    }

    @Test("checksumming in pieces equals checksumming the whole")
    func chainsOverRandomSplits() {
        var random = SplitMix64(seed: 0x5817)
        for _ in 0..<200 {
            let data = random.bytes(Int.random(in: 0...20_000, using: &random))
            let cuts = (0..<Int.random(in: 1...6, using: &random)).map { _ in
                Int.random(in: 0...data.count, using: &random)
            }
            let bounds = [0] + cuts.sorted() + [data.count]
            var crc: UInt32 = 0
            for (start, end) in zip(bounds, bounds.dropFirst()) {
                crc = Array(data[start..<end]).withUnsafeBytes { CRC32C.checksum($0, continuing: crc) }
            }
            #expect(crc == CRC32C.checksum(data), "cuts \(bounds) of \(data.count) bytes")
        }
    }

    @Test("a single flipped bit changes the checksum")
    func detectsBitFlips() {
        var random = SplitMix64(seed: 0xF11B)
        let data = random.bytes(4096)
        let original = CRC32C.checksum(data)
        for _ in 0..<100 {
            var damaged = data
            let bit = Int.random(in: 0..<(data.count * 8), using: &random)
            damaged[bit / 8] ^= 1 << UInt8(bit % 8)
            #expect(CRC32C.checksum(damaged) != original, "bit \(bit)")
        }
    }
}
