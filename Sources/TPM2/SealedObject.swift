internal import CTSS2

/// A secret sealed by the TPM under a storage parent: the marshalled TPM2B_PUBLIC and TPM2B_PRIVATE that
/// TPM2_Create returned. The private part is encrypted to the parent, which never leaves the TPM, so these
/// bytes may be stored on disk; they open only on this TPM, under that parent, through the object's policy.
public struct SealedObject: Sendable, Hashable {
    /// Marshalled TPM2B_PUBLIC: a KEYEDHASH object whose authPolicy says who may unseal it.
    public let publicArea: [UInt8]
    /// Marshalled TPM2B_PRIVATE: the sealed bytes, encrypted and integrity-protected by the parent.
    public let privateArea: [UInt8]

    /// "SKSO", then the format version; a file of another kind or version is refused.
    private static let magic: [UInt8] = [0x53, 0x4B, 0x53, 0x4F]
    private static let version: UInt8 = 1
    /// Far above a TPM2B_PUBLIC or TPM2B_PRIVATE of any TPM; bounds what a corrupt length can claim.
    private static let maximumAreaByteCount = 4096

    init(publicArea: [UInt8], privateArea: [UInt8]) {
        self.publicArea = publicArea
        self.privateArea = privateArea
    }

    /// The on-disk form: "SKSO", version 1, then each area as a 16-bit big-endian length and its bytes.
    public func serialized() -> [UInt8] {
        var writer = ByteWriter()
        writer.append(Self.magic)
        writer.append(Self.version)
        writer.appendSized(publicArea)
        writer.appendSized(privateArea)
        return writer.bytes
    }

    /// Reads `serialized()`'s form back, checking the magic, the version, every length, that the areas are
    /// well-formed TPM structures, and that the object is a SHA-256 sealed data object.
    ///
    /// - Throws: `TPM2Error.malformedInput` saying what is wrong; the bytes are then not a sealed object of
    ///   this format (corrupt, truncated, or another file).
    public init(serialized bytes: [UInt8]) throws(TPM2Error) {
        var reader = ByteReader(bytes, structure: "the sealed object")
        guard try reader.readBytes(4, field: "the magic") == Self.magic else {
            throw .malformedInput("the sealed object does not start with SKSO: it is another kind of file")
        }
        let version = try reader.readUInt8(field: "the version")
        guard version == Self.version else {
            throw .malformedInput("the sealed object has format version \(version); this build reads version 1")
        }
        let publicArea = try reader.readSized(maximum: Self.maximumAreaByteCount, field: "the public area")
        let privateArea = try reader.readSized(maximum: Self.maximumAreaByteCount, field: "the private area")
        try reader.expectEnd()
        let unmarshalled = try Self.unmarshalPublic(publicArea)
        guard unmarshalled.publicArea.type == TPM2_ALG_KEYEDHASH, unmarshalled.publicArea.nameAlg == TPM2_ALG_SHA256
        else {
            throw .malformedInput("the sealed object's public area is not a SHA-256 KEYEDHASH sealed data object")
        }
        _ = try Self.unmarshalPrivate(privateArea)
        self.init(publicArea: publicArea, privateArea: privateArea)
    }

    /// The policy that opens the object, as sealed.
    public var authPolicy: [UInt8] {
        guard let area = try? Self.unmarshalPublic(publicArea) else { return [] }
        return ObjectTemplates.bytes(of: area.publicArea.authPolicy)
    }

    static func unmarshalPublic(_ bytes: [UInt8]) throws(TPM2Error) -> TPM2B_PUBLIC {
        var area = TPM2B_PUBLIC()
        var offset = 0
        let rc = bytes.withUnsafeBufferPointer {
            Tss2_MU_TPM2B_PUBLIC_Unmarshal($0.baseAddress, $0.count, &offset, &area)
        }
        guard rc == TSS2_RC_SUCCESS, offset == bytes.count else {
            throw .malformedInput("the sealed object's public area is not a well-formed TPM2B_PUBLIC")
        }
        return area
    }

    static func unmarshalPrivate(_ bytes: [UInt8]) throws(TPM2Error) -> TPM2B_PRIVATE {
        var area = TPM2B_PRIVATE()
        var offset = 0
        let rc = bytes.withUnsafeBufferPointer {
            Tss2_MU_TPM2B_PRIVATE_Unmarshal($0.baseAddress, $0.count, &offset, &area)
        }
        guard rc == TSS2_RC_SUCCESS, offset == bytes.count else {
            throw .malformedInput("the sealed object's private area is not a well-formed TPM2B_PRIVATE")
        }
        return area
    }

    static func marshal(_ area: TPM2B_PUBLIC) throws(TPM2Error) -> [UInt8] {
        var area = area
        var buffer = [UInt8](repeating: 0, count: MemoryLayout<TPM2B_PUBLIC>.size)
        var offset = 0
        let rc = buffer.withUnsafeMutableBufferPointer {
            Tss2_MU_TPM2B_PUBLIC_Marshal(&area, $0.baseAddress, $0.count, &offset)
        }
        try TPM2Error.check(rc, operation: "Tss2_MU_TPM2B_PUBLIC_Marshal", tcti: "none")
        return Array(buffer.prefix(offset))
    }

    static func marshal(_ area: TPM2B_PRIVATE) throws(TPM2Error) -> [UInt8] {
        var area = area
        var buffer = [UInt8](repeating: 0, count: MemoryLayout<TPM2B_PRIVATE>.size)
        var offset = 0
        let rc = buffer.withUnsafeMutableBufferPointer {
            Tss2_MU_TPM2B_PRIVATE_Marshal(&area, $0.baseAddress, $0.count, &offset)
        }
        try TPM2Error.check(rc, operation: "Tss2_MU_TPM2B_PRIVATE_Marshal", tcti: "none")
        return Array(buffer.prefix(offset))
    }
}
