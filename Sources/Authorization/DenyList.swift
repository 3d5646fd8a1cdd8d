/// Sender certificates home has revoked, by serial number or by public key, kept next to the authorization policy.
///
/// A certificate stays valid until it expires, and a stolen sender key would keep its grants that long: the deny
/// list takes them away at once. A public-key entry also covers every certificate re-issued for the same key.
/// Parsed from a file (see ``init(parsing:file:)``); an empty list revokes nothing.
public struct DenyList: Sendable, Hashable {
    /// Revoked serial numbers, lower-case hexadecimal without leading zeros.
    public private(set) var serialNumbers: Set<String> = []
    /// Revoked public keys: SHA-256 of their DER SubjectPublicKeyInfo, lower-case hexadecimal.
    public private(set) var publicKeys: Set<String> = []

    /// An empty list.
    public init() {}

    /// Whether `peer`'s certificate is revoked.
    public func denies(_ peer: CertifiedPeer) -> Bool {
        serialNumbers.contains(peer.serialNumber) || publicKeys.contains(peer.publicKeySHA256)
    }

    /// Whether the list revokes nothing.
    public var isEmpty: Bool { serialNumbers.isEmpty && publicKeys.isEmpty }

    /// Parses the deny-list file format:
    ///
    ///     # comment
    ///     serial 1f:a0:33                 (hexadecimal, colons optional, as `openssl x509 -serial` prints it)
    ///     public-key sha256:<64 hex>      (of the DER SubjectPublicKeyInfo:
    ///                                      `openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | sha256sum`)
    ///
    /// One entry per line. A mistake is reported with the file and line.
    public init(parsing text: String, file: String) throws(PolicyError) {
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
            guard !words.isEmpty else { continue }
            let location = "\(file):\(index + 1)"
            guard words.count == 2 else {
                throw PolicyError(
                    "\(location): expected `serial <hex>` or `public-key sha256:<hex>`, found \(words.count) words")
            }
            switch words[0] {
            case "serial":
                guard let serial = Self.normalisedSerial(words[1]) else {
                    throw PolicyError("\(location): '\(words[1])' is not a hexadecimal serial number")
                }
                serialNumbers.insert(serial)
            case "public-key":
                let digest = words[1].lowercased()
                guard digest.hasPrefix("sha256:"), digest.utf8.count == 7 + 64,
                    digest.utf8.dropFirst(7).allSatisfy(Self.isHexDigit)
                else {
                    throw PolicyError("\(location): a public key is `sha256:` and 64 hexadecimal digits")
                }
                publicKeys.insert(String(digest.dropFirst(7)))
            default:
                throw PolicyError("\(location): unknown entry '\(words[0])' (expected serial or public-key)")
            }
        }
    }

    /// `serial` without colons, in lower case and without leading zeros; nil unless it is hexadecimal (a serial
    /// number has at most 20 bytes, RFC 5280 4.1.2.2).
    static func normalisedSerial(_ serial: String) -> String? {
        let digits = serial.lowercased().filter { $0 != ":" }
        guard !digits.isEmpty, digits.utf8.count <= 40, digits.utf8.allSatisfy(isHexDigit) else { return nil }
        let trimmed = digits.drop { $0 == "0" }
        return trimmed.isEmpty ? "0" : String(trimmed)
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
    }
}
