import CryptoPrimitives

/// One point of a Shamir sharing: x, and the polynomials' values there, one byte per byte of the secret.
public struct ShamirShare: Sendable {
    /// Where the polynomials were evaluated: 1 to 255, never 0, which is where the secret lies.
    public let x: UInt8

    /// The share bytes, in locked memory that is wiped when released: a threshold of them gives the secret.
    public let value: SecretBytes

    /// Pairs an x with share bytes, as read from a share file.
    public init(x: UInt8, value: SecretBytes) {
        self.x = x
        self.value = value
    }
}

/// Shamir's secret sharing over GF(2^8) (see `GF256` for the field), byte by byte: each byte of the secret is the
/// constant term of its own random polynomial of degree threshold − 1, and share x holds every polynomial's value
/// at x. Any `threshold` shares give the secret back by Lagrange interpolation at 0; fewer are independent of it.
public enum Shamir {
    /// Splits `secret` into `count` shares at x = 1 … count, any `threshold` of which recover it.
    ///
    /// - Throws: `EscrowError.invalidArgument` unless 2 ≤ threshold ≤ count ≤ 255 and the secret is not empty, or
    ///   `CryptoError` if the random generator fails.
    public static func split(secret: SecretBytes, threshold: Int, count: Int) throws -> [ShamirShare] {
        try checkParameters(secretByteCount: secret.count, threshold: threshold, count: count)
        // Coefficient d (1 ≤ d < threshold) of byte i's polynomial is at (d - 1) * secret.count + i.
        let coefficients = try CryptoRandom.secretBytes(count: (threshold - 1) * secret.count)
        return try split(secret: secret, threshold: threshold, count: count, coefficients: coefficients)
    }

    /// `split` with given coefficients, so that a test can walk through all of them.
    static func split(
        secret: SecretBytes, threshold: Int, count: Int, coefficients: SecretBytes
    ) throws -> [ShamirShare] {
        try checkParameters(secretByteCount: secret.count, threshold: threshold, count: count)
        precondition(coefficients.count == (threshold - 1) * secret.count, "one coefficient per degree and byte")
        let length = secret.count
        return (1...count).map { x in
            let x = UInt8(x)
            let value = SecretBytes(count: length) { output in
                secret.withUnsafeBytes { secret in
                    coefficients.withUnsafeBytes { coefficients in
                        for index in 0..<length {
                            // Horner's rule from the highest coefficient down to the secret byte.
                            var y: UInt8 = 0
                            for degree in stride(from: threshold - 1, through: 1, by: -1) {
                                y = GF256.multiply(y, x) ^ coefficients[(degree - 1) * length + index]
                            }
                            output[index] = GF256.multiply(y, x) ^ secret[index]
                        }
                    }
                }
            }
            return ShamirShare(x: x, value: value)
        }
    }

    /// Interpolates the shares at 0. With at least the threshold's number of shares of one split, the result is
    /// the secret; with fewer, or with shares of different splits, it is an unrelated value: check it.
    ///
    /// - Throws: `EscrowError.invalidShares` for no shares, an x of 0, an x given twice, or shares of different
    ///   lengths.
    public static func combine(_ shares: [ShamirShare]) throws -> SecretBytes {
        guard let first = shares.first else { throw EscrowError.invalidShares("no shares were given") }
        var seen = Set<UInt8>()
        for share in shares {
            guard share.x != 0 else { throw EscrowError.invalidShares("a share has x = 0, which no split makes") }
            guard seen.insert(share.x).inserted else {
                throw EscrowError.invalidShares("x = \(share.x) is given twice; each share counts once")
            }
            guard share.value.count == first.value.count else {
                throw EscrowError.invalidShares(
                    "the share at x = \(share.x) has \(share.value.count) bytes, the one at x = \(first.x) has "
                        + "\(first.value.count); they come from different splits")
            }
        }
        // The Lagrange basis polynomials at 0 depend on the x values alone, which are public.
        let weights = shares.map { share in
            var numerator: UInt8 = 1
            var denominator: UInt8 = 1
            for other in shares where other.x != share.x {
                numerator = GF256.multiply(numerator, other.x)
                denominator = GF256.multiply(denominator, share.x ^ other.x)
            }
            return GF256.multiply(numerator, GF256.inverse(denominator))
        }
        return SecretBytes(count: first.value.count) { output in
            for (share, weight) in zip(shares, weights) {
                share.value.withUnsafeBytes { value in
                    for index in 0..<output.count {
                        output[index] ^= GF256.multiply(value[index], weight)
                    }
                }
            }
        }
    }

    private static func checkParameters(secretByteCount: Int, threshold: Int, count: Int) throws {
        guard secretByteCount > 0 else { throw EscrowError.invalidArgument("an empty secret cannot be split") }
        guard 2 <= threshold, threshold <= count, count <= 255 else {
            throw EscrowError.invalidArgument(
                "a \(threshold)-of-\(count) split is impossible: it needs 2 ≤ threshold ≤ count ≤ 255 (GF(256) has "
                    + "255 nonzero points, and a threshold of 1 would hand the secret to each holder)")
        }
    }
}
