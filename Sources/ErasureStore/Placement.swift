import ErasureCode

/// Which member holds which shard, and which members mirror a stream's journal. Pure arithmetic on the names, so
/// that any process, and a spare chassis, finds the same places.
///
/// Segment s of a stream puts shard i on member (i + s + salt) mod N, where salt spreads streams over the members;
/// successive segments rotate, so parity is not concentrated on a few disks. The journal of segment s is mirrored
/// on the m + 1 members that hold its first m + 1 shards.
struct Placement {
    let geometry: ArrayGeometry

    func salt(of stream: String) -> Int {
        Int(CRC32C.checksum(Array(stream.utf8)) % UInt32(geometry.memberCount))
    }

    func member(ofShard shard: Int, segment: UInt64, stream: String) -> Int {
        let rotation = Int(segment % UInt64(geometry.memberCount))
        return (shard + rotation + salt(of: stream)) % geometry.memberCount
    }

    func journalMembers(segment: UInt64, stream: String) -> [Int] {
        (0...geometry.parityShards).map { member(ofShard: $0, segment: segment, stream: stream) }
    }
}
