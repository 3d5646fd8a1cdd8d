import CryptoPrimitives
import PropertyBased
import Synchronization
import TestSupport
import Testing

/// The DER parser of signatures faces files and the network: it must accept exactly one spelling of each valid
/// signature, and refuse everything else without crashing.
@Suite struct ECDSASignatureEncodingTests {
    static let order = [UInt8](hex: "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551")
    static let one = [UInt8](repeating: 0, count: 31) + [1]

    @Test func knownEncodings() throws {
        // Small numbers shrink to one byte; a top bit set needs a zero byte before it.
        let high = [0x80] + [UInt8](repeating: 0, count: 31)
        #expect(try ECDSASignatureEncoding.der(fromRaw: Self.one + high) == [0x30, 0x26, 2, 1, 1, 2, 0x21, 0] + high)
        let largest = Array(Self.order.dropLast()) + [Self.order.last! - 1]
        #expect(
            try ECDSASignatureEncoding.raw(fromDER: ECDSASignatureEncoding.der(fromRaw: largest + largest))
                == largest + largest)
    }

    /// A refusal, with what makes it one.
    static let refusals: [(String, [UInt8])] = [
        ("empty", []),
        ("not a sequence", [0x31, 6, 2, 1, 1, 2, 1, 1]),
        ("long-form length", [0x30, 0x81, 6, 2, 1, 1, 2, 1, 1]),
        ("length too long", [0x30, 7, 2, 1, 1, 2, 1, 1]),
        ("trailing byte", [0x30, 6, 2, 1, 1, 2, 1, 1, 0]),
        ("trailing byte inside", [0x30, 7, 2, 1, 1, 2, 1, 1, 0]),
        ("zero r", [0x30, 6, 2, 1, 0, 2, 1, 1]),
        ("negative s", [0x30, 6, 2, 1, 1, 2, 1, 0x81]),
        ("leading zero", [0x30, 7, 2, 2, 0, 1, 2, 1, 1]),
        ("empty integer", [0x30, 5, 2, 0, 2, 1, 1]),
        ("not an integer", [0x30, 6, 4, 1, 1, 2, 1, 1]),
        ("one integer", [0x30, 3, 2, 1, 1]),
        ("r = n", [0x30, 0x26, 2, 0x21, 0] + order + [2, 1, 1]),
        ("r of 33 bytes", [0x30, 0x26, 2, 0x21, 1] + [UInt8](repeating: 0, count: 32) + [2, 1, 1]),
    ]

    @Test(arguments: refusals.indices) func malformedDERIsRefused(index: Int) {
        let (name, der) = Self.refusals[index]
        #expect(throws: CryptoError.self, "\(name)") { try ECDSASignatureEncoding.raw(fromDER: der) }
    }

    @Test func outOfRangeRawIsRefused() {
        let zero = [UInt8](repeating: 0, count: 32)
        for raw in [zero + Self.one, Self.one + zero, Self.order + Self.one, Self.one + Self.order, Self.one] {
            #expect(throws: CryptoError.self) { try ECDSASignatureEncoding.der(fromRaw: raw) }
        }
    }

    /// Random pairs, many with leading zero bytes or a top bit set: in range, both directions are inverses;
    /// out of range, both refuse.
    @Test func rawAndDERAreInverses() async {
        await propertyCheck(
            count: 3000, input: Gen.uint8().array(of: 64), Gen.uint8(in: 0...40), Gen.uint8(in: 0...40)
        ) { bytes, zerosInR, zerosInS throws in
            var raw = bytes
            for index in 0..<min(Int(zerosInR), 32) { raw[index] = 0 }
            for index in 0..<min(Int(zerosInS), 32) { raw[32 + index] = 0 }
            let inRange = [raw[..<32], raw[32...]].allSatisfy {
                $0.contains { $0 != 0 } && $0.lexicographicallyPrecedes(Self.order)
            }
            if inRange {
                let der = try ECDSASignatureEncoding.der(fromRaw: raw)
                #expect(der.count <= ECDSASignatureEncoding.maximumDERByteCount)
                #expect(try ECDSASignatureEncoding.raw(fromDER: der) == raw)
            } else {
                #expect(throws: CryptoError.self) { try ECDSASignatureEncoding.der(fromRaw: raw) }
            }
        }
    }

    /// Valid encodings damaged at random (a flipped bit, a byte replaced by one DER gives a meaning to, a byte
    /// inserted or removed, a truncation): each is refused, or is exactly the encoding of what it parses to.
    @Test func mutatedDERIsRefusedOrCanonical() async {
        let interesting: [UInt8] = [0x00, 0x01, 0x02, 0x20, 0x21, 0x22, 0x30, 0x44, 0x45, 0x46, 0x7F, 0x80, 0x81, 0xFF]
        let outcomes = Mutex((accepted: 0, refused: 0))
        await propertyCheck(
            count: 5000, input: Gen.uint8().array(of: 64),
            zip(Gen.uint8(in: 0...4), Gen.uint8(), Gen.uint8()).array(of: 1...3)
        ) { bytes, mutations throws in
            var raw = bytes
            raw[0] &= 0x7F  // Below n, and mostly with the top bit of s set or not at random.
            raw[32] &= 0x7F
            raw[31] |= 1
            raw[63] |= 1
            var der = try ECDSASignatureEncoding.der(fromRaw: raw)
            for (kind, position, byte) in mutations {
                let index = Int(position) % der.count
                switch kind {
                case 0: der[index] ^= 1 << (byte % 8)
                case 1: der[index] = interesting[Int(byte) % interesting.count]
                case 2: der.insert(interesting[Int(byte) % interesting.count], at: index)
                case 3: if der.count > 1 { der.remove(at: index) }
                default: der.removeLast(der.count - max(index, 1))
                }
            }
            do {
                let parsed = try ECDSASignatureEncoding.raw(fromDER: der)
                #expect(try ECDSASignatureEncoding.der(fromRaw: parsed) == der, "\(der.hex) parsed as \(parsed.hex)")
                outcomes.withLock { $0.accepted += 1 }
            } catch {
                outcomes.withLock { $0.refused += 1 }
                #expect(error is CryptoError)
            }
        }
        let (accepted, refused) = outcomes.withLock { $0 }
        #expect(accepted >= 100 && refused >= 1000, "\(accepted) accepted, \(refused) refused")
    }

    /// Arbitrary short byte strings that start as a sequence: refused, or canonical.
    @Test func arbitraryBytesAreRefusedOrCanonical() async {
        await propertyCheck(count: 3000, input: Gen.uint8().array(of: 0...72)) { bytes throws in
            let der = bytes.isEmpty ? bytes : [0x30, UInt8(bytes.count - 1)] + bytes.dropFirst()
            if let parsed = try? ECDSASignatureEncoding.raw(fromDER: der) {
                #expect(try ECDSASignatureEncoding.der(fromRaw: parsed) == der)
            }
        }
    }
}
