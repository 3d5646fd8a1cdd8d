internal import CISAL
import Synchronization

/// How to rebuild one erasure pattern: which k surviving shards to read, and ISA-L's tables for the matrix that
/// turns them into the wanted shards.
struct DecodePlan: Sendable {
    /// The surviving shards used as sources, in ascending order.
    let sources: [Int]
    /// Expanded tables for a `targets.count` × k decoding matrix, 32 bytes per coefficient.
    let tables: [UInt8]
}

/// Identifies a plan: the same erased shards and the same wanted shards always give the same plan.
struct ErasurePattern: Hashable, Sendable {
    let erased: [Int]
    let targets: [Int]
}

/// Decoding plans by erasure pattern, shared by all copies of a `ReedSolomon` and safe to use from any thread.
///
/// A plan costs a k × k matrix inversion, which a storage engine would otherwise repeat for every stripe of a
/// degraded disk. An 8 + 3 code has only 231 patterns, so the cache normally never fills; if an unusually wide
/// code does fill it, it is simply emptied, which bounds memory without LRU bookkeeping on the read path.
final class DecodePlanCache: Sendable {
    static let capacity = 1024

    private let plans = Mutex<[ErasurePattern: DecodePlan]>([:])

    func plan(for pattern: ErasurePattern) -> DecodePlan? {
        plans.withLock { $0[pattern] }
    }

    func store(_ plan: DecodePlan, for pattern: ErasurePattern) {
        plans.withLock { plans in
            if plans.count >= Self.capacity {
                plans.removeAll(keepingCapacity: true)
            }
            plans[pattern] = plan
        }
    }
}

extension ReedSolomon {
    /// The cached plan for this pattern, built (outside the lock) on first use. Two threads that miss at the
    /// same time both build the same plan; the second store merely replaces an identical value.
    func decodePlan(erased: [Int], targets: [Int]) throws -> DecodePlan {
        let pattern = ErasurePattern(erased: erased, targets: targets)
        if let plan = decodePlans.plan(for: pattern) {
            return plan
        }
        let plan = try makeDecodePlan(erased: erased, targets: targets)
        decodePlans.store(plan, for: pattern)
        return plan
    }

    /// Follows ISA-L's ec_simple_example: invert the rows of the surviving shards to get back the data, then
    /// take the data rows of that inverse for lost data shards, and the parity row times the inverse for lost
    /// parity shards.
    private func makeDecodePlan(erased: [Int], targets: [Int]) throws -> DecodePlan {
        let k = dataShards
        let isErased = Set(erased)
        let sources = Array((0..<totalShards).lazy.filter { !isErased.contains($0) }.prefix(k))
        precondition(sources.count == k, "callers reject more than m erasures before planning")

        var survivors = [UInt8](repeating: 0, count: k * k)
        for (row, shard) in sources.enumerated() {
            survivors[row * k..<(row + 1) * k] = encodeMatrix[shard * k..<(shard + 1) * k]
        }
        var inverse = [UInt8](repeating: 0, count: k * k)
        let status = survivors.withUnsafeMutableBufferPointer { survivors in
            inverse.withUnsafeMutableBufferPointer { inverse in
                gf_invert_matrix(survivors.baseAddress, inverse.baseAddress, Int32(k))
            }
        }
        try ErasureCodeError.check(inversionStatus: status, erased: erased)

        var decode = [UInt8](repeating: 0, count: targets.count * k)
        for (row, target) in targets.enumerated() {
            if target < k {
                decode[row * k..<(row + 1) * k] = inverse[target * k..<(target + 1) * k]
                continue
            }
            for column in 0..<k {
                var coefficient: UInt8 = 0
                for j in 0..<k {
                    coefficient ^= gf_mul(encodeMatrix[target * k + j], inverse[j * k + column])
                }
                decode[row * k + column] = coefficient
            }
        }
        var tables = [UInt8](repeating: 0, count: 32 * k * targets.count)
        decode.withUnsafeMutableBufferPointer { decode in
            tables.withUnsafeMutableBufferPointer { tables in
                ec_init_tables(Int32(k), Int32(targets.count), decode.baseAddress, tables.baseAddress)
            }
        }
        return DecodePlan(sources: sources, tables: tables)
    }
}
