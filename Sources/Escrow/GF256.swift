/// Arithmetic in GF(2^8) with the field polynomial x^8 + x^4 + x^3 + x^2 + 1 (0x11D), the one libgfshare
/// (Debian's `gfsplit` and `gfcombine`) uses, so that shares can be checked against an independent implementation.
///
/// Every operation is branch-free and reads no table: the operands are share and secret bytes, and a log/exp
/// table indexed by them would leak them through the cache. Sixty-four bytes per recovery make the bitwise
/// multiply's cost irrelevant.
enum GF256 {
    /// The field polynomial, x^8 + x^4 + x^3 + x^2 + 1.
    static let polynomial: UInt16 = 0x11D

    /// The low eight bits of the polynomial: what a carry out of x^7 folds back in.
    private static let reduction: UInt8 = 0x1D

    /// The product `a * b`, by shift-and-add over the eight bits of `b`, with masks in place of branches.
    static func multiply(_ a: UInt8, _ b: UInt8) -> UInt8 {
        var product: UInt8 = 0
        var a = a
        var b = b
        for _ in 0..<8 {
            product ^= a & (0 &- (b & 1))
            a = (a << 1) ^ (reduction & (0 &- (a >> 7)))
            b >>= 1
        }
        return product
    }

    /// The inverse of `a` as a^254 (the multiplicative group has order 255), with a fixed sequence of operations
    /// whatever `a` is; the inverse of 0 comes out as 0, which callers never ask for.
    static func inverse(_ a: UInt8) -> UInt8 {
        // 254 = 0b11111110: square, and multiply by a at each of the seven one-bits after the first.
        var result = a
        for _ in 0..<6 {
            result = multiply(multiply(result, result), a)
        }
        return multiply(result, result)
    }
}
