/// The bytes the crash writer appends: a pure function of a seed and the stream offset, so a writer restarted after
/// a kill regenerates exactly the bytes it had written before at the same offsets, and a test can compute the
/// expected content of any prefix without a record of what was written.
public enum StreamPattern {
    /// The byte at `offset` is byte `offset % 8` (little-endian) of `word(seed, offset / 8)`.
    public static func word(seed: UInt64, index: UInt64) -> UInt64 {
        // SplitMix64's finaliser over (seed, index): neighbouring offsets and seeds give unrelated bytes, so a
        // segment or a journal record written at the wrong offset cannot match by accident.
        var z = seed &* 0x9E37_79B9_7F4A_7C15 &+ index &* 0xD1B5_4A32_D192_ED03 &+ 0x2545_F491_4F6C_DD1D
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Fills `buffer` with the stream's bytes from `offset` on.
    public static func fill(_ buffer: UnsafeMutableRawBufferPointer, seed: UInt64, offset: UInt64) {
        var position = 0
        var streamOffset = offset
        // Byte by byte only up to the first word boundary and after the last one; whole words in between, so that
        // tens of MiB cost little even in a debug build.
        while position < buffer.count && streamOffset % 8 != 0 {
            buffer[position] = byte(seed: seed, offset: streamOffset)
            position += 1
            streamOffset += 1
        }
        while buffer.count - position >= 8 {
            let value = word(seed: seed, index: streamOffset / 8).littleEndian
            buffer.storeBytes(of: value, toByteOffset: position, as: UInt64.self)
            position += 8
            streamOffset += 8
        }
        while position < buffer.count {
            buffer[position] = byte(seed: seed, offset: streamOffset)
            position += 1
            streamOffset += 1
        }
    }

    /// The stream's `count` bytes from `offset` on.
    public static func bytes(seed: UInt64, offset: UInt64, count: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { buffer, initialised in
            fill(UnsafeMutableRawBufferPointer(buffer), seed: seed, offset: offset)
            initialised = count
        }
    }

    private static func byte(seed: UInt64, offset: UInt64) -> UInt8 {
        UInt8(truncatingIfNeeded: word(seed: seed, index: offset / 8) >> (8 * (offset % 8)))
    }
}
