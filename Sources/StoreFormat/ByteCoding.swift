import StreamStore

/// Appends big-endian fields to a byte array: the one way on-disk headers are laid out.
package struct ByteWriter {
    package private(set) var bytes: [UInt8] = []

    package init(capacity: Int = 256) {
        bytes.reserveCapacity(capacity)
    }

    package mutating func write<Integer: FixedWidthInteger>(_ value: Integer) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    package mutating func write(_ raw: [UInt8]) {
        bytes.append(contentsOf: raw)
    }

    /// A length-prefixed (u16) string.
    package mutating func write(_ string: String) {
        let utf8 = Array(string.utf8)
        write(UInt16(utf8.count))
        bytes.append(contentsOf: utf8)
    }
}

/// Reads big-endian fields back; every read checks the remaining length, so a truncated or hostile header is an
/// error, never an out-of-bounds access.
package struct ByteReader {
    private let bytes: [UInt8]
    private(set) var position: Int

    package init(_ bytes: [UInt8], at position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    package var remaining: Int { bytes.count - position }

    package mutating func read<Integer: FixedWidthInteger>(
        _: Integer.Type = Integer.self
    ) throws(FormatError) -> Integer {
        let size = MemoryLayout<Integer>.size
        guard remaining >= size else { throw FormatError("truncated at byte \(position)") }
        var value = Integer.zero
        for byte in bytes[position..<(position + size)] {
            value = value << 8 | Integer(byte)
        }
        position += size
        return value
    }

    package mutating func read(count: Int) throws(FormatError) -> [UInt8] {
        guard count >= 0, remaining >= count else { throw FormatError("truncated at byte \(position)") }
        defer { position += count }
        return Array(bytes[position..<(position + count)])
    }

    package mutating func readString() throws(FormatError) -> String {
        let length: UInt16 = try read()
        guard let string = String(validating: try read(count: Int(length)), as: UTF8.self) else {
            throw FormatError("a name is not UTF-8")
        }
        return string
    }
}

/// Bytes on a member that are not what the engine wrote: torn, corrupt, foreign or of an unknown version.
package struct FormatError: Error, CustomStringConvertible {
    package let description: String

    package init(_ description: String) {
        self.description = description
    }
}

/// `Array.withUnsafeBytes` for a body with typed throws, which the standard library's rethrowing version erases.
package func withBytes<Result>(
    of array: [UInt8], _ body: (UnsafeRawBufferPointer) throws(StreamStorageError) -> Result
) throws(StreamStorageError) -> Result {
    var outcome: Swift.Result<Result, StreamStorageError>?
    array.withUnsafeBytes { bytes in
        outcome = Swift.Result { () throws(StreamStorageError) in try body(bytes) }
    }
    return try outcome!.get()
}
