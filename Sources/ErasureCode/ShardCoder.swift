internal import CISAL

/// The funnel through which every encode and decode reaches `ec_encode_data`, plus the pointer lists it needs.
///
/// ISA-L wants `unsigned char **` for sources and outputs. The lists live in stack-allocated temporary storage
/// and point straight into the caller's memory, so source shards are never copied, whether they sit in one
/// contiguous stripe or in separate arrays.
enum ShardCoder {
    /// Multiplies the `sources` vectors by the coefficient matrix behind `tables`, writing one vector per output.
    static func run(
        tables: [UInt8], sources: UnsafeBufferPointer<UnsafeMutablePointer<UInt8>?>,
        outputs: UnsafeBufferPointer<UnsafeMutablePointer<UInt8>?>, length: Int
    ) {
        precondition(tables.count == 32 * sources.count * outputs.count, "tables do not match the shard lists")
        precondition(length > 0 && length <= Int(Int32.max), "shard length must be validated before coding")
        tables.withUnsafeBufferPointer { tables in
            // ISA-L's prototype takes the tables and sources as non-const, but it only reads them; the cast
            // never leads to a write into an immutable array or a caller's read-only data.
            ec_encode_data(
                Int32(length), Int32(sources.count), Int32(outputs.count),
                UnsafeMutablePointer(mutating: tables.baseAddress),
                UnsafeMutablePointer(mutating: sources.baseAddress),
                UnsafeMutablePointer(mutating: outputs.baseAddress)
            )
        }
    }

    /// Codes array-held sources into `outputCount` freshly allocated shards.
    ///
    /// The outputs are written into one contiguous allocation and then split, which costs one pass over the
    /// (usually few) output bytes but keeps every input shard where it is.
    static func apply(tables: [UInt8], sources: [[UInt8]], outputCount: Int, length: Int) -> [[UInt8]] {
        guard length > 0 else {
            return Array(repeating: [], count: outputCount)
        }
        let combined = [UInt8](unsafeUninitializedCapacity: outputCount * length) { buffer, initialized in
            withPinnedShardList(sources) { sources in
                withShardList(
                    in: UnsafeMutableRawPointer(buffer.baseAddress!), length: length,
                    shards: 0..<outputCount
                ) { outputs in
                    run(tables: tables, sources: sources, outputs: outputs, length: length)
                }
            }
            initialized = outputCount * length
        }
        return (0..<outputCount).map { Array(combined[$0 * length..<($0 + 1) * length]) }
    }

    /// Calls `body` with pointers to the given shards of a contiguous stripe whose shards are `length` bytes.
    static func withShardList<R>(
        in base: UnsafeMutableRawPointer, length: Int, shards: some Collection<Int>,
        _ body: (UnsafeBufferPointer<UnsafeMutablePointer<UInt8>?>) -> R
    ) -> R {
        withUnsafeTemporaryAllocation(of: UnsafeMutablePointer<UInt8>?.self, capacity: shards.count) { list in
            for (slot, shard) in shards.enumerated() {
                // The stripe is plain bytes to ISA-L; binding it as UInt8 matches how C reads it.
                list[slot] = (base + shard * length).assumingMemoryBound(to: UInt8.self)
            }
            return body(UnsafeBufferPointer(list))
        }
    }

    /// Calls `body` with pointers to every array's storage, all pinned for the whole call.
    static func withPinnedShardList<R>(
        _ shards: [[UInt8]], _ body: (UnsafeBufferPointer<UnsafeMutablePointer<UInt8>?>) -> R
    ) -> R {
        withUnsafeTemporaryAllocation(of: UnsafeMutablePointer<UInt8>?.self, capacity: shards.count) { list in
            pin(shards, from: 0, into: list, body)
        }
    }

    /// Swift only guarantees an array's address inside its `withUnsafeBufferPointer` closure, so the closures
    /// nest one level per shard (at most 254 deep) and `body` runs at the innermost level.
    private static func pin<R>(
        _ shards: [[UInt8]], from index: Int, into list: UnsafeMutableBufferPointer<UnsafeMutablePointer<UInt8>?>,
        _ body: (UnsafeBufferPointer<UnsafeMutablePointer<UInt8>?>) -> R
    ) -> R {
        guard index < shards.count else {
            return body(UnsafeBufferPointer(list))
        }
        return shards[index].withUnsafeBufferPointer { shard in
            // Read-only use: ISA-L reads sources through this pointer and never writes them.
            list[index] = UnsafeMutablePointer(mutating: shard.baseAddress)
            return pin(shards, from: index + 1, into: list, body)
        }
    }
}
