import CryptoPrimitives
import TestSupport
import Testing

@testable import Escrow

@Suite struct ShamirTests {
    /// Every subset of exactly `size` of `elements`.
    static func subsets<T>(of elements: [T], size: Int) -> [[T]] {
        guard size > 0 else { return [[]] }
        guard elements.count >= size else { return [] }
        let rest = Array(elements.dropFirst())
        return subsets(of: rest, size: size - 1).map { [elements[0]] + $0 } + subsets(of: rest, size: size)
    }

    @Test(arguments: [(2, 3), (3, 5), (5, 5), (2, 2), (4, 7)])
    func everySubsetOfThresholdSizeOrMoreRecovers(threshold: Int, count: Int) throws {
        let secret = try CryptoRandom.secretBytes(count: 64)
        let shares = try Shamir.split(secret: secret, threshold: threshold, count: count)
        #expect(shares.map(\.x) == (1...count).map(UInt8.init))
        for size in threshold...count {
            for subset in Self.subsets(of: shares, size: size) {
                #expect(try Shamir.combine(subset).bytes == secret.bytes, "x = \(subset.map(\.x))")
                #expect(try Shamir.combine(subset.reversed()).bytes == secret.bytes)
            }
        }
    }

    /// Perfect secrecy, exhaustively: for fixed x values, as the random coefficients range over all their values,
    /// the threshold − 1 share bytes take every combination exactly once, whatever the secret byte. So those
    /// shares are uniformly distributed and independent of the secret: every secret is equally consistent
    /// with them.
    @Test(arguments: [0x00, 0x5A, 0xFF] as [UInt8])
    func fewerThanThresholdSharesAreIndependentOfTheSecret(secretByte: UInt8) throws {
        // 2-of-n: one share; each of the 256 byte positions gets its own coefficient, 0 to 255.
        let oneCoefficient = SecretBytes((0...255).map(UInt8.init))
        let shares = try Shamir.split(
            secret: SecretBytes([UInt8](repeating: secretByte, count: 256)), threshold: 2, count: 255,
            coefficients: oneCoefficient)
        for share in shares {
            #expect(Set(share.value.bytes).count == 256, "x = \(share.x)")
        }
        // 3-of-n: two shares; the 65536 byte positions walk through every pair of coefficients.
        let pairs = (0..<65536).map { UInt8($0 & 0xFF) } + (0..<65536).map { UInt8($0 >> 8) }
        let split = try Shamir.split(
            secret: SecretBytes([UInt8](repeating: secretByte, count: 65536)), threshold: 3, count: 5,
            coefficients: SecretBytes(pairs))
        for (first, second) in [(0, 1), (1, 4), (2, 3)] {
            let a = split[first].value.bytes
            let b = split[second].value.bytes
            let seen = Set((0..<65536).map { UInt16(a[$0]) << 8 | UInt16(b[$0]) })
            #expect(seen.count == 65536, "x = \(split[first].x), \(split[second].x)")
        }
    }

    /// The same, statistically, on the real random path: interpolating threshold − 1 shares gives each
    /// candidate byte about equally often, and the secret no more often than any other value.
    @Test func combiningTooFewSharesGivesUnrelatedBytes() throws {
        let secret = SecretBytes([UInt8](repeating: 0x42, count: 4096))
        var counts = [Int](repeating: 0, count: 256)
        for _ in 0..<4 {
            let shares = try Shamir.split(secret: secret, threshold: 3, count: 5)
            for byte in try Shamir.combine([shares[0], shares[3]]).bytes { counts[Int(byte)] += 1 }
        }
        // 16384 samples, 64 expected per value; 0x42 is no outlier, and no value is far from uniform.
        #expect(counts[0x42] < 130)
        #expect(counts.allSatisfy { $0 > 15 && $0 < 130 })
    }

    @Test func refusesImpossibleParameters() throws {
        let secret = SecretBytes([1, 2, 3])
        for (threshold, count) in [(1, 3), (4, 3), (2, 256), (0, 0)] {
            #expect(throws: EscrowError.invalidArgument("")) {
                try Shamir.split(secret: secret, threshold: threshold, count: count)
            }
        }
        #expect(throws: EscrowError.invalidArgument("")) {
            try Shamir.split(secret: SecretBytes([]), threshold: 2, count: 3)
        }
        #expect(try Shamir.split(secret: secret, threshold: 255, count: 255).count == 255)
    }

    @Test func combineRefusesBadShareSets() throws {
        let shares = try Shamir.split(secret: SecretBytes([1, 2, 3]), threshold: 2, count: 3)
        let cases: [[ShamirShare]] = [
            [],
            [shares[0], shares[0]],
            [shares[0], ShamirShare(x: 0, value: shares[1].value)],
            [shares[0], ShamirShare(x: 9, value: SecretBytes([1, 2]))],
        ]
        for shareSet in cases {
            #expect(throws: EscrowError.invalidShares("")) { try Shamir.combine(shareSet) }
        }
    }
}
