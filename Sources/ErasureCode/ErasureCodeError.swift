/// An erasure-coding request that could not be carried out.
///
/// Two errors are equal when they describe the same failure with the same numbers; where in the code they were
/// raised (`file`, `line`) does not take part, so tests and callers can compare against a factory's result.
public struct ErasureCodeError: Error, CustomStringConvertible, Equatable, Sendable {
    private enum Code: Equatable, Sendable {
        case invalidConfiguration(dataShards: Int, parityShards: Int)
        case wrongShardCount(expected: Int, actual: Int)
        case unequalShardLengths([Int])
        case invalidShardLength(Int)
        case wrongBufferSize(role: String, expected: Int, actual: Int)
        case overlappingBuffers
        case shardIndexOutOfRange(index: Int, shardCount: Int)
        case tooManyMissing(missing: Int, limit: Int)
        case singularMatrix(erased: [Int])
    }

    private let code: Code
    /// The source file that raised the error, for logs.
    public let file: String
    /// The source line that raised the error, for logs.
    public let line: Int

    private init(_ code: Code, file: String, line: Int) {
        self.code = code
        self.file = file
        self.line = line
    }

    /// Equality on what went wrong, not on where it was noticed.
    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.code == rhs.code
    }

    /// True when the stripe itself is beyond repair (more shards lost than parity can replace), as opposed to a
    /// caller passing malformed arguments; a storage engine reports the first as data loss and the second as a bug.
    public var isUnrecoverableStripe: Bool {
        if case .tooManyMissing = code { return true }
        return false
    }

    /// The code shape is unusable: k or m below 1, or more shards than ISA-L's byte-sized field has room for.
    public static func invalidConfiguration(
        dataShards: Int, parityShards: Int, file: String = #fileID, line: Int = #line
    ) -> Self {
        Self(.invalidConfiguration(dataShards: dataShards, parityShards: parityShards), file: file, line: line)
    }

    /// A call passed a different number of shards than the code has.
    public static func wrongShardCount(expected: Int, actual: Int, file: String = #fileID, line: Int = #line) -> Self {
        Self(.wrongShardCount(expected: expected, actual: actual), file: file, line: line)
    }

    /// The shards of one stripe do not all have the same length.
    public static func unequalShardLengths(_ lengths: [Int], file: String = #fileID, line: Int = #line) -> Self {
        Self(.unequalShardLengths(lengths), file: file, line: line)
    }

    /// A shard length is negative or larger than ISA-L's `int` length parameter can carry.
    public static func invalidShardLength(_ length: Int, file: String = #fileID, line: Int = #line) -> Self {
        Self(.invalidShardLength(length), file: file, line: line)
    }

    /// A contiguous buffer does not hold exactly the shards it should.
    public static func wrongBufferSize(
        role: String, expected: Int, actual: Int, file: String = #fileID, line: Int = #line
    ) -> Self {
        Self(.wrongBufferSize(role: role, expected: expected, actual: actual), file: file, line: line)
    }

    /// The data and parity buffers of a zero-copy encode share memory.
    public static func overlappingBuffers(file: String = #fileID, line: Int = #line) -> Self {
        Self(.overlappingBuffers, file: file, line: line)
    }

    /// A missing-shard index names no shard of the stripe.
    public static func shardIndexOutOfRange(
        index: Int, shardCount: Int, file: String = #fileID, line: Int = #line
    ) -> Self {
        Self(.shardIndexOutOfRange(index: index, shardCount: shardCount), file: file, line: line)
    }

    /// More shards are missing than there are parity shards, so the stripe cannot be rebuilt.
    public static func tooManyMissing(missing: Int, limit: Int, file: String = #fileID, line: Int = #line) -> Self {
        Self(.tooManyMissing(missing: missing, limit: limit), file: file, line: line)
    }

    /// ISA-L found the surviving rows singular, which a Cauchy code rules out mathematically.
    public static func singularMatrix(erased: [Int], file: String = #fileID, line: Int = #line) -> Self {
        Self(.singularMatrix(erased: erased), file: file, line: line)
    }

    /// What happened and what to do about it.
    public var description: String {
        "ErasureCodeError: \(message) (\(file):\(line))"
    }

    private var message: String {
        switch code {
        case .invalidConfiguration(let k, let m):
            return "a \(k)+\(m) Reed-Solomon code is invalid; use at least 1 data and 1 parity shard and at most "
                + "\(ReedSolomon.maximumShardCount) shards in total"
        case .wrongShardCount(let expected, let actual):
            return "expected \(expected) shards but got \(actual); pass exactly one entry per shard of the stripe"
        case .unequalShardLengths(let lengths):
            return "shard lengths differ (\(lengths)); all shards of a stripe must be equally long, so pad the "
                + "last data shard before encoding"
        case .invalidShardLength(let length):
            return "shard length \(length) is outside 0...\(Int32.max); split the data into smaller stripes"
        case .wrongBufferSize(let role, let expected, let actual):
            return "the \(role) buffer holds \(actual) bytes but must hold exactly \(expected); size it as "
                + "shard count × shard length"
        case .overlappingBuffers:
            return "the data and parity buffers overlap; give parity its own memory"
        case .shardIndexOutOfRange(let index, let shardCount):
            return "shard index \(index) is outside 0..<\(shardCount); check the missing-shard list"
        case .tooManyMissing(let missing, let limit):
            return "\(missing) shards missing, at most \(limit) can be rebuilt; the stripe is lost unless more "
                + "shards can be read"
        case .singularMatrix(let erased):
            return "ISA-L could not invert the decoding matrix for missing shards \(erased); a Cauchy code cannot "
                + "produce this, so suspect memory corruption or a broken libisal and report it"
        }
    }
}

extension ErasureCodeError {
    /// The one place that reads ISA-L's only status code, `gf_invert_matrix`'s result: zero is success.
    static func check(
        inversionStatus status: Int32, erased: [Int], file: String = #fileID, line: Int = #line
    )
        throws(ErasureCodeError)
    {
        guard status == 0 else {
            throw .singularMatrix(erased: erased, file: file, line: line)
        }
    }
}
