import CryptoPrimitives
import Foundation
import HPKE

/// The bundle file: JSON, every binary field in lower-case hexadecimal, read as hostile input (bounded size,
/// every field checked before any is used). docs/escrow.md describes it.
extension EscrowBundle {
    /// The largest bundle file read: 255 officials take about 100 KiB, so anything near this is not a bundle.
    public static let maximumFileByteCount = 1 << 20

    /// The `format` field, so that a bundle is recognised for what it is.
    static let formatName = "saatkond escrow bundle"

    private struct Document: Codable {
        var format: String
        var version: Int
        var identifier: String
        var appliance: String
        var created: String
        var threshold: Int
        var storagePublicKey: String
        var secretCheck: String
        var officials: [OfficialDocument]
    }

    private struct OfficialDocument: Codable {
        var name: String
        var publicKey: String
        var x: Int
        var encapsulatedKey: String
        var ciphertext: String
    }

    /// The bundle file's bytes: pretty-printed JSON with sorted keys, ending in a newline.
    public func serialized() -> [UInt8] {
        let document = Document(
            format: Self.formatName, version: Self.formatVersion, identifier: Hex.encode(identifier),
            appliance: appliance, created: created, threshold: threshold,
            storagePublicKey: Hex.encode(storagePublicKey.rawRepresentation), secretCheck: Hex.encode(secretCheck),
            officials: officials.map {
                OfficialDocument(
                    name: $0.name, publicKey: Hex.encode($0.publicKey.rawRepresentation), x: Int($0.x),
                    encapsulatedKey: Hex.encode($0.encapsulatedKey), ciphertext: Hex.encode($0.ciphertext))
            })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do {
            return Array(try encoder.encode(document)) + [UInt8(ascii: "\n")]
        } catch {
            fatalError("encoding an escrow bundle of strings and integers cannot fail: \(error)")
        }
    }

    /// Parses a bundle file.
    ///
    /// - Throws: `EscrowError.malformedBundle`, saying which field is wrong, for anything but a complete bundle
    ///   of this format version; nothing is trusted until every field has been checked.
    public init(parsing bytes: [UInt8]) throws {
        guard bytes.count <= Self.maximumFileByteCount else {
            throw EscrowError.malformedBundle("it is \(bytes.count) bytes, more than any bundle")
        }
        let document: Document
        do {
            document = try JSONDecoder().decode(Document.self, from: Data(bytes))
        } catch {
            throw EscrowError.malformedBundle("it is not JSON of the bundle's fields (\(error))")
        }
        guard document.format == Self.formatName else {
            throw EscrowError.malformedBundle("its format is '\(document.format)', not '\(Self.formatName)'")
        }
        guard document.version == Self.formatVersion else {
            throw EscrowError.malformedBundle(
                "it is of version \(document.version); this program reads version \(Self.formatVersion)")
        }
        guard let identifier = Hex.decode(document.identifier, byteCount: Self.identifierByteCount) else {
            throw EscrowError.malformedBundle("its identifier is not \(Self.identifierByteCount) bytes of hex")
        }
        try Self.checkField { try Self.checkName(document.appliance, "appliance") }
        guard (try? Date(document.created, strategy: .iso8601)) != nil, document.created.utf8.count <= 64 else {
            throw EscrowError.malformedBundle("its creation time '\(document.created)' is not ISO 8601")
        }
        let count = document.officials.count
        guard 2 <= document.threshold, document.threshold <= count, count <= 255 else {
            throw EscrowError.malformedBundle("a threshold of \(document.threshold) for \(count) officials")
        }
        let storagePublicKey = try Self.publicKey(document.storagePublicKey, "the storage public key")
        guard let secretCheck = Hex.decode(document.secretCheck, byteCount: SHA256.byteCount) else {
            throw EscrowError.malformedBundle("its secret check is not \(SHA256.byteCount) bytes of hex")
        }
        let officials = try document.officials.map(Self.official)
        guard Set(officials.map(\.name)).count == count, Set(officials.map(\.x)).count == count,
            Set(officials.map(\.publicKey)).count == count
        else {
            throw EscrowError.malformedBundle("two officials share a name, an x or a public key")
        }
        self.init(
            header: Header(
                identifier: identifier, appliance: document.appliance, created: document.created,
                threshold: document.threshold, storagePublicKey: storagePublicKey, secretCheck: secretCheck,
                roster: officials.map { ($0.name, $0.publicKey, $0.x) }),
            officials: officials)
    }

    private static func official(_ document: OfficialDocument) throws -> Official {
        try checkField { try checkName(document.name, "official") }
        guard (1...255).contains(document.x) else {
            throw EscrowError.malformedBundle("official '\(document.name)' has x = \(document.x), not 1 to 255")
        }
        guard let encapsulatedKey = Hex.decode(document.encapsulatedKey, byteCount: X25519PublicKey.byteCount),
            let ciphertext = Hex.decode(document.ciphertext, byteCount: secretByteCount + HPKE.tagByteCount)
        else {
            throw EscrowError.malformedBundle("the sealed share of official '\(document.name)' has the wrong length")
        }
        return Official(
            name: document.name, publicKey: try publicKey(document.publicKey, "the public key of '\(document.name)'"),
            x: UInt8(document.x), encapsulatedKey: encapsulatedKey, ciphertext: ciphertext)
    }

    private static func publicKey(_ hex: String, _ what: String) throws -> X25519PublicKey {
        guard let raw = Hex.decode(hex, byteCount: X25519PublicKey.byteCount) else {
            throw EscrowError.malformedBundle("\(what) is not \(X25519PublicKey.byteCount) bytes of hex")
        }
        return try X25519PublicKey(rawRepresentation: raw)
    }

    /// Reports a name check's refusal as a malformed bundle.
    private static func checkField(_ check: () throws -> Void) throws {
        do {
            try check()
        } catch {
            throw EscrowError.malformedBundle("\(error)")
        }
    }
}
