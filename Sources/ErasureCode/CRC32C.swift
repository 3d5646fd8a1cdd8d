internal import CISAL

/// The standard CRC-32C (Castagnoli, polynomial 0x1EDC6F41, reflected, initial value and final XOR 0xFFFFFFFF),
/// computed by ISA-L with the SSE4.2 `crc32` instruction or PCLMULQDQ folding where the CPU has them.
///
/// `checksum("123456789")` is 0xE3069283, the catalogue check value, and checksums chain:
/// `checksum(b, continuing: checksum(a)) == checksum(a + b)`, so a block can be checksummed piece by piece.
public enum CRC32C {
    /// ISA-L takes the length as C `int`; longer buffers are fed in pieces of at most this many bytes.
    static let maximumPieceLength = 1 << 30

    /// The CRC-32C of `bytes`, or of everything checksummed so far followed by `bytes` when `crc` is the
    /// checksum of what came before. The default of 0 is the checksum of nothing.
    public static func checksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        guard var address = bytes.baseAddress else {
            return crc
        }
        // crc32_iscsi neither inverts its initial value nor its result (measured: "123456789" with initial value
        // 0xFFFFFFFF gives 0x1CF96D7C, the complement of the check value). The standard CRC does both, so the
        // running register is the complement of the published checksum, and continuing re-complements it.
        var register = ~crc
        var remaining = bytes.count
        while remaining > 0 {
            let piece = min(remaining, maximumPieceLength)
            // The prototype takes a non-const buffer, but ISA-L only reads it.
            register = crc32_iscsi(
                UnsafeMutablePointer(mutating: address.assumingMemoryBound(to: UInt8.self)), Int32(piece), register
            )
            address += piece
            remaining -= piece
        }
        return ~register
    }

    /// The CRC-32C of `bytes`, continuing from `crc` like `checksum(_:continuing:)` on a raw buffer.
    public static func checksum(_ bytes: [UInt8], continuing crc: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0, continuing: crc) }
    }
}
