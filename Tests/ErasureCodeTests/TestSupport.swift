import TestSupport

extension SplitMix64 {
    mutating func shards(_ count: Int, length: Int) -> [[UInt8]] {
        (0..<count).map { _ in bytes(length) }
    }
}

/// Every r-element subset of 0..<n, in lexicographic order.
func subsets(of n: Int, size r: Int) -> [[Int]] {
    guard r <= n else { return [] }
    var result: [[Int]] = []
    var current = Array(0..<r)
    while true {
        result.append(current)
        var position = r - 1
        while position >= 0 && current[position] == n - r + position {
            position -= 1
        }
        guard position >= 0 else { return result }
        current[position] += 1
        for next in (position + 1)..<r {
            current[next] = current[next - 1] + 1
        }
    }
}

/// `size` distinct indices from 0..<n, drawn at random.
func randomSubset(of n: Int, size: Int, using generator: inout SplitMix64) -> [Int] {
    Array(Array(0..<n).shuffled(using: &generator).prefix(size)).sorted()
}

/// A textbook GF(2⁸) with ISA-L's field polynomial x⁸ + x⁴ + x³ + x² + 1 (0x11D), written independently of ISA-L
/// so that the parity ISA-L produces can be checked against the definition of the code.
enum ReferenceField {
    static func multiply(_ a: UInt8, _ b: UInt8) -> UInt8 {
        var a = UInt16(a)
        var b = b
        var product: UInt16 = 0
        while b != 0 {
            if b & 1 != 0 { product ^= a }
            a <<= 1
            if a & 0x100 != 0 { a ^= 0x11D }
            b >>= 1
        }
        return UInt8(product)
    }

    /// a²⁵⁴ is a⁻¹ in GF(2⁸) because the multiplicative group has order 255.
    static func inverse(_ a: UInt8) -> UInt8 {
        var result: UInt8 = 1
        for _ in 0..<254 {
            result = multiply(result, a)
        }
        return result
    }

    /// The parity of a systematic Cauchy code as ISA-L documents it: parity row i (k ≤ i < k + m) has the
    /// coefficient 1 / (i ⊕ j) for data shard j.
    static func cauchyParity(of data: [[UInt8]], parityShards m: Int) -> [[UInt8]] {
        let k = data.count
        let length = data.first?.count ?? 0
        return (k..<(k + m)).map { row in
            var parity = [UInt8](repeating: 0, count: length)
            for (column, shard) in data.enumerated() {
                let coefficient = inverse(UInt8(row ^ column))
                var table = [UInt8](repeating: 0, count: 256)
                for value in 0..<256 {
                    table[value] = multiply(coefficient, UInt8(value))
                }
                for index in 0..<length {
                    parity[index] ^= table[Int(shard[index])]
                }
            }
            return parity
        }
    }
}

/// A bit-at-a-time CRC-32C straight from the definition (reflected polynomial 0x82F63B78, initial value and
/// final XOR 0xFFFFFFFF), independent of ISA-L.
func referenceCRC32C(_ bytes: some Sequence<UInt8>) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 {
            crc = crc & 1 != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1
        }
    }
    return ~crc
}

/// The shards back to back, as one contiguous stripe (a bulk copy; `joined()` goes byte by byte in debug builds).
func flatten(_ shards: [[UInt8]]) -> [UInt8] {
    shards.reduce(into: []) { $0.append(contentsOf: $1) }
}
