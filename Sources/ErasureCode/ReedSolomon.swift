internal import CISAL

/// A systematic Reed-Solomon erasure code over GF(2⁸), computed by ISA-L.
///
/// A stripe is `dataShards` (k) equally long data shards followed by `parityShards` (m) parity shards; any k of
/// the k + m shards rebuild all others. The generator is ISA-L's Cauchy matrix (`gf_gen_cauchy1_matrix`): an
/// identity on top, so data shards are stored verbatim, and Cauchy rows below, every square submatrix of which is
/// invertible, so every choice of k survivors decodes. Parity bytes therefore depend on that exact matrix and are
/// part of the on-disk format: never change the construction for an existing store.
///
/// The value is cheap to copy and safe to share between threads: the encoding tables are built once in `init`,
/// and the decoding tables for each erasure pattern are built on first use and cached behind a lock. Create one
/// value per code shape and keep it (copies share the cache), rather than one per stripe.
public struct ReedSolomon: Sendable {
    /// The most shards (data plus parity) one stripe can have: the Cauchy construction needs a distinct non-zero
    /// field element per shard, and ISA-L's own examples stop at 255.
    public static let maximumShardCount = 255

    /// The number of data shards, k.
    public let dataShards: Int
    /// The number of parity shards, m: how many lost shards a stripe survives.
    public let parityShards: Int
    /// k + m, the number of shards in a stripe.
    public var totalShards: Int { dataShards + parityShards }

    /// The (k + m) × k generator matrix, row-major; row i produces shard i.
    let encodeMatrix: [UInt8]
    /// ISA-L's expanded multiplication tables for the m parity rows (32 bytes per coefficient).
    let encodeTables: [UInt8]
    /// Decoding tables per erasure pattern, shared by every copy of this value.
    let decodePlans: DecodePlanCache

    /// Creates a k + m code and precomputes its encoding tables.
    ///
    /// - Throws: `ErasureCodeError.invalidConfiguration` unless k ≥ 1, m ≥ 1 and k + m ≤ `maximumShardCount`.
    public init(dataShards k: Int, parityShards m: Int) throws {
        guard k >= 1, m >= 1, k <= Self.maximumShardCount - m else {
            throw ErasureCodeError.invalidConfiguration(dataShards: k, parityShards: m)
        }
        var matrix = [UInt8](repeating: 0, count: (k + m) * k)
        matrix.withUnsafeMutableBufferPointer { matrix in
            gf_gen_cauchy1_matrix(matrix.baseAddress, Int32(k + m), Int32(k))
        }
        var tables = [UInt8](repeating: 0, count: 32 * k * m)
        matrix.withUnsafeMutableBufferPointer { matrix in
            tables.withUnsafeMutableBufferPointer { tables in
                // Only the parity rows need tables: the identity rows are the data shards themselves.
                ec_init_tables(Int32(k), Int32(m), matrix.baseAddress! + k * k, tables.baseAddress)
            }
        }
        self.dataShards = k
        self.parityShards = m
        self.encodeMatrix = matrix
        self.encodeTables = tables
        self.decodePlans = DecodePlanCache()
    }

    /// Computes the m parity shards of k equally long data shards.
    ///
    /// This convenience reads the data in place but returns freshly allocated parity; the storage path should use
    /// `encode(data:shardLength:parity:)`, which writes into memory the caller already owns.
    ///
    /// - Throws: `ErasureCodeError` when there are not exactly k shards or their lengths differ.
    public func encode(data: [[UInt8]]) throws -> [[UInt8]] {
        guard data.count == dataShards else {
            throw ErasureCodeError.wrongShardCount(expected: dataShards, actual: data.count)
        }
        let length = try Self.commonLength(of: data)
        return ShardCoder.apply(
            tables: encodeTables, sources: data, outputCount: parityShards, length: length
        )
    }

    /// Computes parity without copying: `data` holds the k data shards back to back, `parity` receives the m
    /// parity shards back to back, each `shardLength` bytes long.
    ///
    /// A stripe laid out as one buffer of (k + m) × `shardLength` bytes is encoded by passing its first k shards
    /// as `data` and the rest as `parity`.
    ///
    /// - Throws: `ErasureCodeError` when a buffer is not exactly k (or m) × `shardLength` bytes, when the
    ///   buffers overlap, or when `shardLength` exceeds `Int32.max`.
    public func encode(
        data: UnsafeRawBufferPointer, shardLength: Int, parity: UnsafeMutableRawBufferPointer
    ) throws {
        try Self.validate(shardLength: shardLength)
        try Self.validate(buffer: data.count, role: "data", expected: dataShards * shardLength)
        try Self.validate(buffer: parity.count, role: "parity", expected: parityShards * shardLength)
        guard shardLength > 0, let dataBase = data.baseAddress, let parityBase = parity.baseAddress else { return }
        let dataRange = UInt(bitPattern: dataBase)..<UInt(bitPattern: dataBase + data.count)
        let parityRange = UInt(bitPattern: parityBase)..<UInt(bitPattern: parityBase + parity.count)
        guard !dataRange.overlaps(parityRange) else {
            throw ErasureCodeError.overlappingBuffers()
        }
        ShardCoder.withShardList(
            in: UnsafeMutableRawPointer(mutating: dataBase), length: shardLength,
            shards: 0..<dataShards
        ) { sources in
            ShardCoder.withShardList(in: parityBase, length: shardLength, shards: 0..<parityShards) { outputs in
                ShardCoder.run(tables: encodeTables, sources: sources, outputs: outputs, length: shardLength)
            }
        }
    }
}

extension ReedSolomon {
    /// The length every shard shares, or an error naming all lengths when they differ.
    static func commonLength(of shards: [[UInt8]]) throws -> Int {
        let length = shards.first?.count ?? 0
        guard shards.allSatisfy({ $0.count == length }) else {
            throw ErasureCodeError.unequalShardLengths(shards.map(\.count))
        }
        try validate(shardLength: length)
        return length
    }

    /// ISA-L takes lengths as C `int`; anything larger must be refused rather than truncated.
    static func validate(shardLength: Int) throws {
        guard (0...Int(Int32.max)).contains(shardLength) else {
            throw ErasureCodeError.invalidShardLength(shardLength)
        }
    }

    static func validate(buffer size: Int, role: String, expected: Int) throws {
        guard size == expected else {
            throw ErasureCodeError.wrongBufferSize(role: role, expected: expected, actual: size)
        }
    }
}
