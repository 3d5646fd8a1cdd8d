import CryptoPrimitives
import ErasureStore
import Foundation
import StoreFormat
import StreamStore
import SystemPackage
import TestSupport

/// A fresh array of member directories in a scratch directory, with its keys; `remove()` in a `defer`.
struct ArrayFixture {
    let scratch: ScratchDirectory
    let members: [FilePath]
    let keys: StorageKeys
    /// The storage private key behind `keys`, for tests that hand it to another process.
    let storagePrivateKey: X25519PrivateKey
    let geometry: ArrayGeometry

    init(
        dataShards: Int = 4, parityShards: Int = 2, memberCount: Int = 7, shardBytes: Int = 256 << 10,
        blockBytes: Int = 4096
    ) throws {
        // The geometry first: one that is refused leaves no scratch directory behind.
        geometry = try ArrayGeometry(
            dataShards: dataShards, parityShards: parityShards, memberCount: memberCount, shardBytes: shardBytes,
            blockBytes: blockBytes)
        let scratch = try ScratchDirectory(prefix: "saatkond-array")
        self.scratch = scratch
        members = (0..<memberCount).map { FilePath("\(scratch.path)/disk-\($0)") }
        let privateKey = try X25519PrivateKey()
        storagePrivateKey = privateKey
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

typealias PatternGenerator = SplitMix64

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
