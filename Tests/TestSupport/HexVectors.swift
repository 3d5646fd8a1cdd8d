import CryptoPrimitives

extension Array where Element == UInt8 {
    /// Parses hexadecimal as published in RFCs and NIST documents; whitespace between digits is ignored.
    public init(hex: String) {
        let digits = hex.filter { !$0.isWhitespace }
        precondition(digits.count.isMultiple(of: 2), "odd number of hex digits in a test vector")
        var bytes: [UInt8] = []
        var index = digits.startIndex
        while index < digits.endIndex {
            let next = digits.index(index, offsetBy: 2)
            bytes.append(UInt8(digits[index..<next], radix: 16)!)
            index = next
        }
        self = bytes
    }

    /// Lower-case hexadecimal, for readable failure messages.
    public var hex: String {
        map { String($0, radix: 16) }.map { $0.count == 1 ? "0" + $0 : $0 }.joined()
    }
}

extension SecretBytes {
    /// Test-only copy of the secret bytes, to compare them with published vectors.
    public var bytes: [UInt8] {
        withUnsafeBytes { Array($0) }
    }

    /// Test-only construction from a published hexadecimal vector.
    public convenience init(hex: String) {
        self.init([UInt8](hex: hex))
    }
}
