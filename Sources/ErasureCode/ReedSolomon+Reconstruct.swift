extension ReedSolomon {
    /// Rebuilds every missing shard, data and parity, from any k present ones.
    ///
    /// `shards` has one entry per shard of the stripe (k + m), `nil` where a shard is lost or failed its
    /// checksum. On return every entry is non-nil. Present shards are read in place, never copied.
    ///
    /// - Throws: `ErasureCodeError.tooManyMissing` when more than m entries are `nil` (the stripe is lost);
    ///   other `ErasureCodeError`s for a wrong entry count or unequal shard lengths.
    public func reconstruct(_ shards: inout [[UInt8]?]) throws {
        try rebuild(&shards, dataOnly: false)
    }

    /// Rebuilds only the missing data shards, which is all a read needs; missing parity entries stay `nil`.
    ///
    /// - Throws: the same errors as `reconstruct(_:)`, including when more than m entries are `nil`.
    public func reconstructData(_ shards: inout [[UInt8]?]) throws {
        try rebuild(&shards, dataOnly: true)
    }

    /// Rebuilds the shards listed in `missing` inside a contiguous stripe, without copying.
    ///
    /// `shards` holds all k + m shards back to back, each `shardLength` bytes; the bytes of the shards named in
    /// `missing` are ignored on input and overwritten with their reconstruction. Order and duplicates in
    /// `missing` do not matter.
    ///
    /// - Throws: `ErasureCodeError.tooManyMissing` when more than m distinct shards are missing; other
    ///   `ErasureCodeError`s for a wrongly sized buffer or an index outside 0..<k + m.
    public func reconstruct(shards: UnsafeMutableRawBufferPointer, shardLength: Int, missing: [Int]) throws {
        try rebuild(stripe: shards, shardLength: shardLength, missing: missing, dataOnly: false)
    }

    /// Like `reconstruct(shards:shardLength:missing:)`, but rewrites only the missing data shards; the bytes of
    /// missing parity shards are left as they were.
    public func reconstructData(shards: UnsafeMutableRawBufferPointer, shardLength: Int, missing: [Int]) throws {
        try rebuild(stripe: shards, shardLength: shardLength, missing: missing, dataOnly: true)
    }

    private func rebuild(_ shards: inout [[UInt8]?], dataOnly: Bool) throws {
        guard shards.count == totalShards else {
            throw ErasureCodeError.wrongShardCount(expected: totalShards, actual: shards.count)
        }
        let erased = shards.indices.filter { shards[$0] == nil }
        guard erased.count <= parityShards else {
            throw ErasureCodeError.tooManyMissing(missing: erased.count, limit: parityShards)
        }
        let length = try Self.commonLength(of: shards.compactMap { $0 })
        let targets = dataOnly ? erased.filter { $0 < dataShards } : erased
        guard !targets.isEmpty else { return }

        let plan = try decodePlan(erased: erased, targets: targets)
        let rebuilt = ShardCoder.apply(
            tables: plan.tables, sources: plan.sources.map { shards[$0]! }, outputCount: targets.count,
            length: length
        )
        for (shard, index) in zip(rebuilt, targets) {
            shards[index] = shard
        }
    }

    private func rebuild(
        stripe: UnsafeMutableRawBufferPointer, shardLength: Int, missing: [Int], dataOnly: Bool
    ) throws {
        try Self.validate(shardLength: shardLength)
        try Self.validate(buffer: stripe.count, role: "stripe", expected: totalShards * shardLength)
        for index in missing where !(0..<totalShards).contains(index) {
            throw ErasureCodeError.shardIndexOutOfRange(index: index, shardCount: totalShards)
        }
        let erased = Set(missing).sorted()
        guard erased.count <= parityShards else {
            throw ErasureCodeError.tooManyMissing(missing: erased.count, limit: parityShards)
        }
        let targets = dataOnly ? erased.filter { $0 < dataShards } : erased
        guard !targets.isEmpty, shardLength > 0, let base = stripe.baseAddress else { return }

        let plan = try decodePlan(erased: erased, targets: targets)
        ShardCoder.withShardList(in: base, length: shardLength, shards: plan.sources) { sources in
            ShardCoder.withShardList(in: base, length: shardLength, shards: targets) { outputs in
                ShardCoder.run(tables: plan.tables, sources: sources, outputs: outputs, length: shardLength)
            }
        }
    }
}
