/// Big-endian writing in the TPM's wire format (TPM 2.0 part 1, "Marshalling"), for the structures whose
/// digests home computes offline; pure, so that those digests need no TPM and no C library.
struct ByteWriter {
    private(set) var bytes: [UInt8] = []

    mutating func append(_ value: UInt8) {
        bytes.append(value)
    }

    mutating func append(_ value: UInt16) {
        bytes += [UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)]
    }

    mutating func append(_ value: UInt32) {
        append(UInt16(truncatingIfNeeded: value >> 16))
        append(UInt16(truncatingIfNeeded: value))
    }

    mutating func append(_ raw: [UInt8]) {
        bytes += raw
    }

    /// A TPM2B: a 16-bit size, then the bytes; callers bound the count far below 65 536.
    mutating func appendSized(_ raw: [UInt8]) {
        append(UInt16(raw.count))
        bytes += raw
    }
}

/// Big-endian reading of untrusted bytes (a quote from the network, a sealed object from disk): every read
/// is bounds-checked and a failure names the field, so hostile input ends in an error, never a trap.
struct ByteReader {
    private let bytes: [UInt8]
    private(set) var offset = 0
    /// Names the structure in error messages ("TPMS_ATTEST", "sealed object").
    private let structure: String

    init(_ bytes: [UInt8], structure: String) {
        self.bytes = bytes
        self.structure = structure
    }

    var isAtEnd: Bool { offset == bytes.count }

    mutating func readBytes(_ count: Int, field: String) throws(TPM2Error) -> [UInt8] {
        guard count >= 0, bytes.count - offset >= count else {
            throw .malformedInput(
                "\(structure) ends inside \(field): \(count) bytes needed at offset \(offset), "
                    + "\(bytes.count - offset) left"
            )
        }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    mutating func readUInt8(field: String) throws(TPM2Error) -> UInt8 {
        try readBytes(1, field: field)[0]
    }

    mutating func readUInt16(field: String) throws(TPM2Error) -> UInt16 {
        try readBytes(2, field: field).reduce(0) { $0 << 8 | UInt16($1) }
    }

    mutating func readUInt32(field: String) throws(TPM2Error) -> UInt32 {
        try readBytes(4, field: field).reduce(0) { $0 << 8 | UInt32($1) }
    }

    mutating func readUInt64(field: String) throws(TPM2Error) -> UInt64 {
        try readBytes(8, field: field).reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// A TPM2B whose size may not exceed `maximum`, the capacity the TPM itself allows for that type.
    mutating func readSized(maximum: Int, field: String) throws(TPM2Error) -> [UInt8] {
        let size = Int(try readUInt16(field: "the size of \(field)"))
        guard size <= maximum else {
            throw .malformedInput("\(structure) gives \(field) \(size) bytes, more than the \(maximum) allowed")
        }
        return try readBytes(size, field: field)
    }

    /// Refuses bytes after the structure: a well-formed encoding has exactly one length.
    func expectEnd() throws(TPM2Error) {
        guard isAtEnd else {
            throw .malformedInput("\(structure) has \(bytes.count - offset) unexpected bytes after its end")
        }
    }
}

extension ByteReader {
    /// A one-byte size, then that many bytes (a TPMS_PCR_SELECTION's bitmap), at most `maximum`.
    mutating func readSized8(maximum: Int, field: String) throws(TPM2Error) -> [UInt8] {
        let size = Int(try readUInt8(field: "the size of \(field)"))
        guard size <= maximum else {
            throw .malformedInput("\(field) has \(size) bytes, more than the \(maximum) allowed")
        }
        return try readBytes(size, field: field)
    }
}
