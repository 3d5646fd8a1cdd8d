import ErasureCode

/// The label each member carries in its `saatkond-member` file: which array it belongs to, which position it has,
/// and the array's geometry. With it an array reassembles from its disks alone, in any order, in a spare chassis.
package struct MemberIdentity: Hashable, Sendable {
    package static let fileName = "saatkond-member"
    private static let magic = Array("SKMEMBR1".utf8)

    package var arrayID: [UInt8]
    package var index: Int
    package var geometry: ArrayGeometry

    package func encoded() -> [UInt8] {
        var writer = ByteWriter()
        writer.write(Self.magic)
        writer.write(arrayID)
        writer.write(UInt16(index))
        writer.write(UInt16(geometry.memberCount))
        writer.write(UInt8(geometry.dataShards))
        writer.write(UInt8(geometry.parityShards))
        writer.write(UInt32(geometry.shardBytes))
        writer.write(UInt32(geometry.blockBytes))
        writer.write(CRC32C.checksum(writer.bytes))
        return writer.bytes
    }

    package init(arrayID: [UInt8], index: Int, geometry: ArrayGeometry) {
        self.arrayID = arrayID
        self.index = index
        self.geometry = geometry
    }

    package init(decoding bytes: [UInt8]) throws(FormatError) {
        var reader = ByteReader(bytes)
        guard try reader.read(count: 8) == Self.magic else { throw FormatError("not a Saatkond member label") }
        arrayID = try reader.read(count: 16)
        index = Int(try reader.read(UInt16.self))
        let memberCount = Int(try reader.read(UInt16.self))
        let dataShards = Int(try reader.read(UInt8.self))
        let parityShards = Int(try reader.read(UInt8.self))
        let shardBytes = Int(try reader.read(UInt32.self))
        let blockBytes = Int(try reader.read(UInt32.self))
        let checksum: UInt32 = try reader.read()
        guard reader.remaining == 0, CRC32C.checksum(Array(bytes[..<(bytes.count - 4)])) == checksum else {
            throw FormatError("the member label is damaged")
        }
        do {
            geometry = try ArrayGeometry(
                dataShards: dataShards, parityShards: parityShards, memberCount: memberCount,
                shardBytes: shardBytes, blockBytes: blockBytes)
        } catch {
            throw FormatError("the member label describes an impossible array: \(error)")
        }
        guard index < memberCount else { throw FormatError("member index \(index) of \(memberCount)") }
    }
}
