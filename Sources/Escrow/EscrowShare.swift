import CryptoPrimitives

/// One official's opened share, as a share file holds it: the share, and which bundle, appliance and official it
/// belongs to, so that a recovery refuses a share of another bundle instead of computing a wrong key.
///
/// The file is six lines of text (docs/escrow.md):
///
///     saatkond escrow share v1
///     bundle 0f1e…(32 hex digits)
///     appliance tallinn-1
///     official Mari Tamm
///     x 3
///     share 9a0c…(128 hex digits)
public struct EscrowShare: Sendable {
    /// The identifier of the bundle the share was opened from.
    public let bundleIdentifier: [UInt8]
    /// The appliance whose secret it is a share of.
    public let appliance: String
    /// The official whose share it is.
    public let official: String
    /// The share itself; its bytes are in locked memory.
    public let share: ShamirShare

    /// The largest share file read; a real one is about 300 bytes.
    public static let maximumFileByteCount = 4096

    private static let firstLine = "saatkond escrow share v1"

    init(bundleIdentifier: [UInt8], appliance: String, official: String, share: ShamirShare) {
        self.bundleIdentifier = bundleIdentifier
        self.appliance = appliance
        self.official = official
        self.share = share
    }

    /// The share file's text, in locked memory: it holds the share.
    public func serialized() -> SecretBytes {
        let head = Array(
            """
            \(Self.firstLine)
            bundle \(Hex.encode(bundleIdentifier))
            appliance \(appliance)
            official \(official)
            x \(share.x)
            share\u{20}
            """.utf8)
        let value = share.value
        return SecretBytes(count: head.count + 2 * value.count + 1) { output in
            output.copyBytes(from: head)
            value.withUnsafeBytes { value in
                Hex.encodeSecret(
                    value, into: UnsafeMutableRawBufferPointer(rebasing: output[head.count..<(output.count - 1)]))
            }
            output[output.count - 1] = UInt8(ascii: "\n")
        }
    }

    /// Parses a share file's bytes; the share is decoded from `text` straight into locked memory.
    ///
    /// - Throws: `EscrowError.malformedShare`, saying which line is wrong.
    public init(parsing text: UnsafeRawBufferPointer) throws {
        guard text.count <= Self.maximumFileByteCount else {
            throw EscrowError.malformedShare("it is \(text.count) bytes, more than any share file")
        }
        var lines = text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        let keys = ["", "bundle", "appliance", "official", "x", "share"]
        guard lines.count == keys.count else {
            throw EscrowError.malformedShare("it has \(lines.count) lines, not \(keys.count)")
        }
        guard lines[0].elementsEqual(Self.firstLine.utf8) else {
            throw EscrowError.malformedShare("its first line is not '\(Self.firstLine)'")
        }
        // Every line but the share is public and read as text; the share line only as bytes.
        var fields: [String] = []
        for (line, key) in zip(lines, keys).dropFirst().dropLast() {
            fields.append(try Self.field(key, in: line))
        }
        guard let identifier = Hex.decode(fields[0], byteCount: EscrowBundle.identifierByteCount) else {
            throw EscrowError.malformedShare("its bundle is not \(EscrowBundle.identifierByteCount) bytes of hex")
        }
        do {
            try EscrowBundle.checkName(fields[1], "appliance")
            try EscrowBundle.checkName(fields[2], "official")
        } catch {
            throw EscrowError.malformedShare("\(error)")
        }
        guard let x = UInt8(fields[3]), x != 0, String(x) == fields[3] else {
            throw EscrowError.malformedShare("its x '\(fields[3])' is not a number from 1 to 255")
        }
        let shareLine = lines[5]
        let prefix = Array("share ".utf8)
        guard shareLine.starts(with: prefix), shareLine.count == prefix.count + 2 * EscrowBundle.secretByteCount else {
            throw EscrowError.malformedShare("its share line is not 'share' and \(EscrowBundle.secretByteCount) bytes")
        }
        let digits = UnsafeRawBufferPointer(rebasing: shareLine.dropFirst(prefix.count))
        let value = try SecretBytes(count: EscrowBundle.secretByteCount) { value in
            guard Hex.decodeSecret(digits, into: value) else {
                throw EscrowError.malformedShare("its share is not lower-case hexadecimal")
            }
        }
        self.init(
            bundleIdentifier: identifier, appliance: fields[1], official: fields[2],
            share: ShamirShare(x: x, value: value))
    }

    private static func field(_ key: String, in line: Slice<UnsafeRawBufferPointer>) throws -> String {
        guard let text = String(validating: line, as: UTF8.self), text.hasPrefix(key + " ") else {
            throw EscrowError.malformedShare("a line for '\(key)' is missing")
        }
        return String(text.dropFirst(key.count + 1))
    }
}
