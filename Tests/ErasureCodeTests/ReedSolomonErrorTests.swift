import ErasureCode
import TestSupport
import Testing

@Suite("Reed-Solomon misuse and data loss")
struct ReedSolomonErrorTests {
    @Test(
        "shapes outside 1 ≤ k, 1 ≤ m, k + m ≤ 255 are refused",
        arguments: [(0, 1), (1, 0), (-1, 3), (8, -3), (200, 56), (1, 255), (255, 1), (Int.max, 1)])
    func invalidShapes(k: Int, m: Int) {
        #expect(throws: ErasureCodeError.invalidConfiguration(dataShards: k, parityShards: m)) {
            try ReedSolomon(dataShards: k, parityShards: m)
        }
    }

    @Test("the extreme valid shapes are accepted", arguments: [(1, 1), (254, 1), (1, 254), (128, 127)])
    func extremeShapes(k: Int, m: Int) throws {
        let code = try ReedSolomon(dataShards: k, parityShards: m)
        #expect(code.totalShards == k + m)
    }

    @Test("more than m lost shards is reported as an unrecoverable stripe")
    func tooManyMissing() throws {
        let code = try ReedSolomon(dataShards: 8, parityShards: 3)
        var random = SplitMix64(seed: 0x1055)
        let data = random.shards(8, length: 64)
        let stripe = data + (try code.encode(data: data))
        var shards: [[UInt8]?] = stripe
        for index in [0, 4, 8, 10] { shards[index] = nil }
        let untouched = shards

        let error = try #require(throws: ErasureCodeError.self) { try code.reconstruct(&shards) }
        #expect(error == .tooManyMissing(missing: 4, limit: 3))
        #expect(error.isUnrecoverableStripe)
        #expect(error.description.contains("4 shards missing, at most 3 can be rebuilt"))
        #expect(shards == untouched, "a failed reconstruct changed its input")
        #expect(throws: ErasureCodeError.tooManyMissing(missing: 4, limit: 3)) { try code.reconstructData(&shards) }

        var contiguous = flatten(stripe)
        #expect(throws: ErasureCodeError.tooManyMissing(missing: 4, limit: 3)) {
            try contiguous.withUnsafeMutableBytes {
                try code.reconstruct(shards: $0, shardLength: 64, missing: [1, 2, 3, 4, 4, 1])
            }
        }
    }

    @Test("shards of different lengths are refused")
    func unequalLengths() throws {
        let code = try ReedSolomon(dataShards: 3, parityShards: 2)
        #expect(throws: ErasureCodeError.unequalShardLengths([4, 4, 5])) {
            try code.encode(data: [[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4, 5]])
        }
        var shards: [[UInt8]?] = [[1, 2], nil, [3, 4], [5, 6, 7], [8, 9]]
        let error = try #require(throws: ErasureCodeError.self) { try code.reconstruct(&shards) }
        #expect(error == .unequalShardLengths([2, 2, 3, 2]))
        #expect(!error.isUnrecoverableStripe)
    }

    @Test("a wrong number of shards is refused")
    func wrongShardCount() throws {
        let code = try ReedSolomon(dataShards: 3, parityShards: 2)
        #expect(throws: ErasureCodeError.wrongShardCount(expected: 3, actual: 2)) {
            try code.encode(data: [[1], [2]])
        }
        var shards: [[UInt8]?] = [[1], [2], [3], nil]
        #expect(throws: ErasureCodeError.wrongShardCount(expected: 5, actual: 4)) { try code.reconstruct(&shards) }
    }

    @Test("zero-copy buffers of the wrong size, overlapping or with bad indices are refused")
    func badBuffers() throws {
        let code = try ReedSolomon(dataShards: 4, parityShards: 2)
        var stripe = [UInt8](repeating: 1, count: 6 * 10)
        stripe.withUnsafeMutableBytes { stripe in
            let data = UnsafeRawBufferPointer(rebasing: stripe[0..<40])
            #expect(throws: ErasureCodeError.wrongBufferSize(role: "data", expected: 44, actual: 40)) {
                try code.encode(
                    data: data, shardLength: 11, parity: UnsafeMutableRawBufferPointer(rebasing: stripe[40...]))
            }
            #expect(throws: ErasureCodeError.wrongBufferSize(role: "parity", expected: 20, actual: 19)) {
                try code.encode(
                    data: data, shardLength: 10, parity: UnsafeMutableRawBufferPointer(rebasing: stripe[41...]))
            }
            #expect(throws: ErasureCodeError.overlappingBuffers()) {
                try code.encode(
                    data: data, shardLength: 10, parity: UnsafeMutableRawBufferPointer(rebasing: stripe[30..<50]))
            }
            #expect(throws: ErasureCodeError.invalidShardLength(-1)) {
                try code.reconstruct(shards: stripe, shardLength: -1, missing: [0])
            }
            #expect(throws: ErasureCodeError.wrongBufferSize(role: "stripe", expected: 54, actual: 60)) {
                try code.reconstruct(shards: stripe, shardLength: 9, missing: [0])
            }
            #expect(throws: ErasureCodeError.shardIndexOutOfRange(index: 6, shardCount: 6)) {
                try code.reconstruct(shards: stripe, shardLength: 10, missing: [6])
            }
            #expect(throws: ErasureCodeError.shardIndexOutOfRange(index: -1, shardCount: 6)) {
                try code.reconstructData(shards: stripe, shardLength: 10, missing: [-1])
            }
        }
        #expect(stripe.allSatisfy { $0 == 1 }, "a refused call wrote into the buffer")
    }
}
