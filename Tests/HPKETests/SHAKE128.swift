import TestSupport

/// SHAKE128 (FIPS 202), only for the tests: Go's crypto/hpke publishes its RFC 9180 known answers for 1000
/// messages as a SHAKE128 digest of the ciphertexts, with inputs drawn from a SHAKE128 stream, and
/// CryptoPrimitives has no SHAKE. Checked against Python's hashlib in `SHAKE128Tests`.
struct SHAKE128 {
    private static let rateByteCount = 168

    private static let roundConstants: [UInt64] = [
        0x0000_0000_0000_0001, 0x0000_0000_0000_8082, 0x8000_0000_0000_808A, 0x8000_0000_8000_8000,
        0x0000_0000_0000_808B, 0x0000_0000_8000_0001, 0x8000_0000_8000_8081, 0x8000_0000_0000_8009,
        0x0000_0000_0000_008A, 0x0000_0000_0000_0088, 0x0000_0000_8000_8009, 0x0000_0000_8000_000A,
        0x0000_0000_8000_808B, 0x8000_0000_0000_008B, 0x8000_0000_0000_8089, 0x8000_0000_0000_8003,
        0x8000_0000_0000_8002, 0x8000_0000_0000_0080, 0x0000_0000_0000_800A, 0x8000_0000_8000_000A,
        0x8000_0000_8000_8081, 0x8000_0000_0000_8080, 0x0000_0000_8000_0001, 0x8000_0000_8000_8008,
    ]

    /// The rho rotation of each lane, indexed x + 5y, computed from the walk of FIPS 202 section 3.2.2.
    private static let rotations: [UInt64] = {
        var rotations = [UInt64](repeating: 0, count: 25)
        var (x, y) = (1, 0)
        for t in 0..<24 {
            rotations[x + 5 * y] = UInt64(((t + 1) * (t + 2) / 2) % 64)
            (x, y) = (y, (2 * x + 3 * y) % 5)
        }
        return rotations
    }()

    private var lanes = [UInt64](repeating: 0, count: 25)
    private var offset = 0
    private var squeezing = false

    /// Absorbs more input; only before the first `squeeze`.
    mutating func absorb(_ bytes: [UInt8]) {
        precondition(!squeezing, "SHAKE128 cannot absorb after squeezing")
        for byte in bytes {
            xorByte(byte, at: offset)
            offset += 1
            if offset == Self.rateByteCount {
                permute()
                offset = 0
            }
        }
    }

    /// Returns the next `count` bytes of output.
    mutating func squeeze(_ count: Int) -> [UInt8] {
        if !squeezing {
            xorByte(0x1F, at: offset)
            xorByte(0x80, at: Self.rateByteCount - 1)
            permute()
            offset = 0
            squeezing = true
        }
        var output: [UInt8] = []
        output.reserveCapacity(count)
        while output.count < count {
            if offset == Self.rateByteCount {
                permute()
                offset = 0
            }
            output.append(UInt8(truncatingIfNeeded: lanes[offset / 8] >> (8 * UInt64(offset % 8))))
            offset += 1
        }
        return output
    }

    private mutating func xorByte(_ byte: UInt8, at position: Int) {
        lanes[position / 8] ^= UInt64(byte) << (8 * UInt64(position % 8))
    }

    /// Keccak-f[1600]: theta, rho and pi, chi, iota, 24 rounds.
    private mutating func permute() {
        var a = lanes
        for round in 0..<24 {
            var c = [UInt64](repeating: 0, count: 5)
            for x in 0..<5 {
                c[x] = a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20]
            }
            for x in 0..<5 {
                let d = c[(x + 4) % 5] ^ Self.rotate(c[(x + 1) % 5], by: 1)
                for y in 0..<5 {
                    a[x + 5 * y] ^= d
                }
            }
            var b = [UInt64](repeating: 0, count: 25)
            for x in 0..<5 {
                for y in 0..<5 {
                    b[y + 5 * ((2 * x + 3 * y) % 5)] = Self.rotate(a[x + 5 * y], by: Self.rotations[x + 5 * y])
                }
            }
            for x in 0..<5 {
                for y in 0..<5 {
                    a[x + 5 * y] = b[x + 5 * y] ^ (~b[(x + 1) % 5 + 5 * y] & b[(x + 2) % 5 + 5 * y])
                }
            }
            a[0] ^= Self.roundConstants[round]
        }
        lanes = a
    }

    private static func rotate(_ value: UInt64, by amount: UInt64) -> UInt64 {
        amount == 0 ? value : (value << amount) | (value >> (64 - amount))
    }
}
