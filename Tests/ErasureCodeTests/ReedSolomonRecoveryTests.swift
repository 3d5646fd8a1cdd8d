import ErasureCode
import TestSupport
import Testing

@Suite("Reed-Solomon recovery")
struct ReedSolomonRecoveryTests {
    struct Shape: Sendable, CustomTestStringConvertible {
        let k: Int
        let m: Int
        var testDescription: String { "\(k)+\(m)" }
    }

    static let shapes = [
        Shape(k: 1, m: 1), Shape(k: 4, m: 2), Shape(k: 8, m: 3), Shape(k: 10, m: 4), Shape(k: 3, m: 5),
    ]

    /// Lengths below, at and around ISA-L's 16- and 32-byte vector widths, plus odd larger ones.
    static let lengths = [1, 15, 33, 1031]

    /// Every erasure pattern of at most m shards, each rebuilt both from arrays and in a contiguous stripe.
    @Test("every pattern of up to m lost shards is rebuilt exactly", arguments: shapes)
    func rebuildsEveryPattern(_ shape: Shape) throws {
        let code = try ReedSolomon(dataShards: shape.k, parityShards: shape.m)
        var random = SplitMix64(seed: UInt64(shape.k * 1000 + shape.m))
        for length in Self.lengths {
            let data = random.shards(shape.k, length: length)
            let stripe = data + (try code.encode(data: data))
            for count in 1...shape.m {
                for erased in subsets(of: shape.k + shape.m, size: count) {
                    try expectRebuilt(stripe, erasing: erased, with: code)
                }
            }
        }
    }

    @Test("random patterns of up to m lost shards in long shards")
    func rebuildsLongShards() throws {
        var random = SplitMix64(seed: 0x10C4)
        for shape in [Shape(k: 8, m: 3), Shape(k: 10, m: 4)] {
            let code = try ReedSolomon(dataShards: shape.k, parityShards: shape.m)
            let data = random.shards(shape.k, length: 65_537)
            let stripe = data + (try code.encode(data: data))
            for _ in 0..<20 {
                let count = Int.random(in: 1...shape.m, using: &random)
                try expectRebuilt(
                    stripe, erasing: randomSubset(of: stripe.count, size: count, using: &random), with: code)
            }
        }
    }

    @Test(
        "the widest codes ISA-L allows rebuild m lost shards", arguments: [Shape(k: 200, m: 55), Shape(k: 254, m: 1)])
    func rebuildsWideCodes(_ shape: Shape) throws {
        let code = try ReedSolomon(dataShards: shape.k, parityShards: shape.m)
        var random = SplitMix64(seed: UInt64(shape.k))
        let data = random.shards(shape.k, length: 67)
        let stripe = data + (try code.encode(data: data))
        for _ in 0..<3 {
            try expectRebuilt(
                stripe, erasing: randomSubset(of: stripe.count, size: shape.m, using: &random), with: code)
        }
    }

    @Test("reconstructData rebuilds lost data shards and leaves lost parity alone")
    func rebuildsOnlyData() throws {
        let code = try ReedSolomon(dataShards: 8, parityShards: 3)
        var random = SplitMix64(seed: 0xDA7A)
        let data = random.shards(8, length: 100)
        let stripe = data + (try code.encode(data: data))
        let erased = [2, 5, 9]

        var shards: [[UInt8]?] = stripe.enumerated().map { erased.contains($0.offset) ? nil : $0.element }
        try code.reconstructData(&shards)
        #expect(shards[2] == stripe[2])
        #expect(shards[5] == stripe[5])
        #expect(shards[9] == nil)

        // The same erasures rebuilt in full must not reuse the data-only plan.
        shards[2] = nil
        shards[5] = nil
        try code.reconstruct(&shards)
        #expect(shards.map { $0 ?? [] } == stripe)

        var contiguous = flatten(stripe)
        for index in erased {
            contiguous.replaceSubrange(index * 100..<(index + 1) * 100, with: repeatElement(0xEE, count: 100))
        }
        try contiguous.withUnsafeMutableBytes {
            try code.reconstructData(shards: $0, shardLength: 100, missing: erased)
        }
        #expect(Array(contiguous[0..<800]) == flatten(data))
        #expect(contiguous[900..<1000].allSatisfy { $0 == 0xEE }, "a lost parity shard was rewritten")
    }

    @Test("one shared code rebuilds correctly from many tasks at once")
    func rebuildsConcurrently() async throws {
        let code = try ReedSolomon(dataShards: 8, parityShards: 3)
        var random = SplitMix64(seed: 0xC0C0)
        let data = random.shards(8, length: 4096)
        let stripe = data + (try code.encode(data: data))
        let patterns = subsets(of: 11, size: 3) + subsets(of: 11, size: 2)
        let failures = await withTaskGroup(of: [Int]?.self) { group in
            for erased in patterns {
                group.addTask {
                    var shards: [[UInt8]?] = stripe.enumerated().map { erased.contains($0.offset) ? nil : $0.element }
                    guard (try? code.reconstruct(&shards)) != nil, shards.map({ $0! }) == stripe else { return erased }
                    return nil
                }
            }
            return await group.reduce(into: [[Int]]()) { failures, failure in
                if let failure { failures.append(failure) }
            }
        }
        #expect(failures.isEmpty)
    }

    @Test("a stripe with nothing missing is left as it is")
    func nothingMissing() throws {
        let code = try ReedSolomon(dataShards: 4, parityShards: 2)
        var random = SplitMix64(seed: 4)
        let data = random.shards(4, length: 10)
        let stripe = data + (try code.encode(data: data))
        var shards: [[UInt8]?] = stripe
        try code.reconstruct(&shards)
        #expect(shards.map { $0! } == stripe)
        var contiguous = flatten(stripe)
        try contiguous.withUnsafeMutableBytes { try code.reconstruct(shards: $0, shardLength: 10, missing: []) }
        #expect(contiguous == flatten(stripe))
    }

    @Test("empty shards encode to empty parity and rebuild as empty")
    func emptyShards() throws {
        let code = try ReedSolomon(dataShards: 4, parityShards: 2)
        let parity = try code.encode(data: Array(repeating: [], count: 4))
        #expect(parity == [[], []])
        var shards: [[UInt8]?] = [nil, [], [], [], nil, []]
        try code.reconstruct(&shards)
        #expect(shards.allSatisfy { $0 == [] })
    }

    /// Erases `erased` from `stripe`, rebuilds it both ways, and expects the original back.
    private func expectRebuilt(
        _ stripe: [[UInt8]], erasing erased: [Int], with code: ReedSolomon,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        var shards: [[UInt8]?] = stripe.enumerated().map { erased.contains($0.offset) ? nil : $0.element }
        try code.reconstruct(&shards)
        let wrong = stripe.indices.filter { shards[$0] != stripe[$0] }
        #expect(wrong.isEmpty, "erased \(erased), rebuilt wrongly \(wrong)", sourceLocation: sourceLocation)

        // The contiguous form holds the complement where the lost shards were, so every stale byte is wrong.
        let length = stripe[0].count
        var contiguous = flatten(stripe)
        for index in erased {
            contiguous.replaceSubrange(index * length..<(index + 1) * length, with: stripe[index].map { ~$0 })
        }
        try contiguous.withUnsafeMutableBytes {
            try code.reconstruct(shards: $0, shardLength: length, missing: erased.reversed())
        }
        let wrongInPlace = stripe.indices.filter { Array(contiguous[$0 * length..<($0 + 1) * length]) != stripe[$0] }
        #expect(
            wrongInPlace.isEmpty, "erased \(erased), rebuilt wrongly in place \(wrongInPlace)",
            sourceLocation: sourceLocation)
    }
}
