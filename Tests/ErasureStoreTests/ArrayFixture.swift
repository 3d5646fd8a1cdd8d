import CryptoPrimitives
import ErasureStore
import Foundation
import StreamStore
import SystemPackage
import TestSupport

/// A fresh array of member directories in a scratch directory, with its keys; `remove()` in a `defer`.
struct ArrayFixture {
    let scratch: ScratchDirectory
    let members: [FilePath]
    let keys: StorageKeys
    let geometry: ArrayGeometry

    init(
        dataShards: Int = 4, parityShards: Int = 2, memberCount: Int = 7, shardBytes: Int = 256 << 10,
        blockBytes: Int = 4096
    ) throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-array")
        self.scratch = scratch
        geometry = try ArrayGeometry(
            dataShards: dataShards, parityShards: parityShards, memberCount: memberCount, shardBytes: shardBytes,
            blockBytes: blockBytes)
        members = (0..<memberCount).map { FilePath("\(scratch.path)/disk-\($0)") }
        let privateKey = try X25519PrivateKey()
        keys = try StorageKeys(
            storagePublicKey: privateKey.publicKey, storagePrivateKey: privateKey,
            journalKey: try CryptoRandom.secretBytes(count: 32))
        _ = try ErasureCodedStore.create(members: members, geometry: geometry)
    }

    func open(_ directories: [FilePath]? = nil) throws -> ErasureCodedStore {
        try ErasureCodedStore(members: directories ?? members, keys: keys)
    }

    func remove() {
        scratch.remove()
    }

    /// Everything stored on member `index`, erased: the disk was pulled and replaced by a blank one.
    func wipe(_ index: Int) throws {
        try FileManager.default.removeItem(atPath: members[index].string)
        try FileManager.default.createDirectory(atPath: members[index].string, withIntermediateDirectories: true)
    }
}

/// Deterministic pseudo-random bytes, so a failing case reproduces.
struct PatternGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func bytes(_ count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { buffer in
            var index = 0
            while index < count {
                var word = next()
                for _ in 0..<min(8, count - index) {
                    buffer[index] = UInt8(truncatingIfNeeded: word)
                    word >>= 8
                    index += 1
                }
            }
        }
        return bytes
    }
}

extension StreamAppender {
    func append(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try append($0) }
    }
}

extension StreamReader {
    func readAll() throws -> [UInt8] {
        try read(at: 0, count: Int(length))
    }

    func read(at offset: UInt64, count: Int) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        let read = try buffer.withUnsafeMutableBytes { try self.read(at: offset, into: $0) }
        return Array(buffer[..<read])
    }
}
