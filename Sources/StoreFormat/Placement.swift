import ErasureCode

/// Which member holds which shard, and which members mirror a stream's journal. Pure arithmetic on the names, so
/// that any process, and a spare chassis, finds the same places.
///
/// Segment s of a stream puts shard i on member (i + s + salt) mod N, where salt spreads streams over the members;
/// successive segments rotate, so parity is not concentrated on a few disks. The journal of segment s is mirrored
/// on members (j + (m + 1) s + salt) mod N for j in 0...m: successive segments' journals move on by m + 1 members,
/// so the three a stream can hold at once (a covered segment's, the open one's and the next one's, prepared) fall
/// on different members where N allows, and their spare files come from different members' pools.
package struct Placement {
    package let geometry: ArrayGeometry

    package init(geometry: ArrayGeometry) {
        self.geometry = geometry
    }

    package func salt(of stream: String) -> Int {
        Int(CRC32C.checksum(Array(stream.utf8)) % UInt32(geometry.memberCount))
    }

    package func member(ofShard shard: Int, segment: UInt64, stream: String) -> Int {
        let rotation = Int(segment % UInt64(geometry.memberCount))
        return (shard + rotation + salt(of: stream)) % geometry.memberCount
    }

    package func journalMembers(segment: UInt64, stream: String) -> [Int] {
        let copies = geometry.parityShards + 1
        let rotation = Int((segment % UInt64(geometry.memberCount)) * UInt64(copies) % UInt64(geometry.memberCount))
        return (0..<copies).map { ($0 + rotation + salt(of: stream)) % geometry.memberCount }
    }
}
