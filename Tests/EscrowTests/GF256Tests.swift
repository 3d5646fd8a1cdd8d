import Testing

@testable import Escrow

/// The branch-free field arithmetic against the textbook definition, over the whole field.
@Suite struct GF256Tests {
    /// Carry-less multiplication followed by reduction modulo 0x11D, written as plainly as possible.
    static func referenceProduct(_ a: UInt8, _ b: UInt8) -> UInt8 {
        var wide: UInt16 = 0
        for bit in 0..<8 where (b >> bit) & 1 == 1 {
            wide ^= UInt16(a) << bit
        }
        for bit in stride(from: 15, through: 8, by: -1) where (wide >> bit) & 1 == 1 {
            wide ^= GF256.polynomial << (bit - 8)
        }
        return UInt8(wide)
    }

    @Test func multiplyMatchesTheDefinitionForEveryPair() {
        for a in 0...255 {
            for b in 0...255 {
                let product = GF256.multiply(UInt8(a), UInt8(b))
                guard product == Self.referenceProduct(UInt8(a), UInt8(b)) else {
                    Issue.record("\(a) * \(b) gave \(product)")
                    return
                }
            }
        }
    }

    /// x^8 = x^4 + x^3 + x^2 + 1 is what makes the field libgfshare's rather than AES's (0x11B, which gives 0x1B).
    @Test func theFieldPolynomialIsLibgfsharesOne() {
        #expect(GF256.multiply(0x80, 0x02) == 0x1D)
        #expect(GF256.polynomial == 0x11D)
    }

    @Test func everyNonzeroElementHasItsInverse() {
        for a in 1...255 {
            #expect(GF256.multiply(UInt8(a), GF256.inverse(UInt8(a))) == 1, "inverse of \(a)")
        }
        #expect(GF256.inverse(0) == 0)
    }

    /// 2 generates the multiplicative group under 0x11D: its powers reach all 255 nonzero elements.
    @Test func twoIsAGenerator() {
        var seen = Set<UInt8>()
        var power: UInt8 = 1
        for _ in 0..<255 {
            seen.insert(power)
            power = GF256.multiply(power, 2)
        }
        #expect(seen.count == 255)
        #expect(power == 1)
    }
}
