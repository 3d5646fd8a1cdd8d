import ErasureCode
import TestSupport
import Testing

@Suite("Reed-Solomon encoding")
struct ReedSolomonEncodingTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let k: Int
        let m: Int
        let length: Int
        var testDescription: String { "\(k)+\(m), \(length) bytes" }
    }

    /// Shard lengths around ISA-L's 16-, 32- and 64-byte vector paths, where tail handling could go wrong.
    static let cases: [Case] =
        [1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 1000, 4099].map { Case(k: 8, m: 3, length: $0) }
        + [Case(k: 1, m: 1, length: 77), Case(k: 4, m: 2, length: 129), Case(k: 10, m: 4, length: 1001)]
        + [Case(k: 3, m: 7, length: 250), Case(k: 20, m: 12, length: 97)]

    @Test("parity equals the Cauchy code computed from its definition", arguments: cases)
    func matchesDefinition(_ testCase: Case) throws {
        let code = try ReedSolomon(dataShards: testCase.k, parityShards: testCase.m)
        var random = SplitMix64(seed: UInt64(testCase.k * 7919 + testCase.m * 31 + testCase.length))
        let data = random.shards(testCase.k, length: testCase.length)
        let parity = try code.encode(data: data)
        #expect(parity.count == testCase.m)
        #expect(parity == ReferenceField.cauchyParity(of: data, parityShards: testCase.m))
    }

    @Test("the zero-copy encoder writes the same parity as the array encoder", arguments: cases)
    func zeroCopyAgrees(_ testCase: Case) throws {
        let code = try ReedSolomon(dataShards: testCase.k, parityShards: testCase.m)
        var random = SplitMix64(seed: UInt64(testCase.length * 104_729 + testCase.k))
        let data = random.shards(testCase.k, length: testCase.length)
        let expected = try code.encode(data: data)

        // One buffer for the whole stripe, parity slots pre-filled with garbage, as the storage engine lays it out.
        let dataBytes = testCase.k * testCase.length
        var stripe = flatten(data) + random.bytes(testCase.m * testCase.length)
        try stripe.withUnsafeMutableBytes { stripe in
            try code.encode(
                data: UnsafeRawBufferPointer(rebasing: stripe[..<dataBytes]), shardLength: testCase.length,
                parity: UnsafeMutableRawBufferPointer(rebasing: stripe[dataBytes...]))
        }
        #expect(Array(stripe[dataBytes...]) == flatten(expected))
        #expect(Array(stripe[..<dataBytes]) == flatten(data), "the encoder wrote into the data")
    }

    @Test("the code exposes its shape")
    func shape() throws {
        let code = try ReedSolomon(dataShards: 8, parityShards: 3)
        #expect(code.dataShards == 8)
        #expect(code.parityShards == 3)
        #expect(code.totalShards == 11)
        #expect(ReedSolomon.maximumShardCount == 255)
    }
}
