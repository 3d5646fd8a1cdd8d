import CryptoPrimitives
import ErasureStore
import Foundation
import StoreFormat
import StreamStore
import SystemPackage
import Testing

/// A store reads committed segments through a segment-key opener (the keys service's socket on the appliance). An
/// opener that cannot try — keys locked, zeroized, their service away — stops a read with its reason and never
/// makes a shard count as damaged or be rewritten.
struct SegmentKeyOpenerTests {
    /// Refuses every unwrap, as a locked keys service does.
    struct LockedOpener: SegmentKeyOpener {
        func openSegmentKey(_ wrapped: WrappedSegmentKey) throws -> SecretBytes {
            throw SegmentKeyUnavailable("the storage key is sealed (test)")
        }
    }

    /// Counts the unwraps it is asked for and answers them with the real key.
    final class CountingOpener: SegmentKeyOpener, @unchecked Sendable {
        let key: X25519PrivateKey
        private let lock = NSLock()
        private var asked: [WrappedSegmentKey] = []

        init(key: X25519PrivateKey) {
            self.key = key
        }

        var count: Int { lock.withLock { asked.count } }
        var wrappedKeys: [WrappedSegmentKey] { lock.withLock { asked } }

        func openSegmentKey(_ wrapped: WrappedSegmentKey) throws -> SecretBytes {
            lock.withLock { asked.append(wrapped) }
            return try SegmentKeyWrapping.open(wrapped, with: key)
        }
    }

    static func writeStream(_ array: ArrayFixture, segments: Int) throws -> [UInt8] {
        let store = try array.open()
        defer { store.shutdown() }
        let bytes = (0..<(segments * array.geometry.segmentBytes)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let appender = try store.openAppender(for: try StreamName("ee.opener"))
        try appender.append(bytes)
        _ = try appender.makeDurable()
        appender.close()
        return bytes
    }

    @Test("reads go through the opener, one unwrap per segment")
    func readsThroughTheOpener() throws {
        let array = try ArrayFixture()
        defer { array.remove() }
        let bytes = try Self.writeStream(array, segments: 3)
        let opener = CountingOpener(key: array.storagePrivateKey)
        let store = try ErasureCodedStore(
            members: array.members,
            keys: try StorageKeys(
                storagePublicKey: array.storagePrivateKey.publicKey, segmentKeys: opener,
                journalKey: array.keys.journalKey))
        defer { store.shutdown() }
        let reader = try store.openReader(for: try StreamName("ee.opener"))
        defer { reader.close() }
        var read = [UInt8](repeating: 0, count: bytes.count)
        var offset = 0
        while offset < bytes.count {
            offset += try read.withUnsafeMutableBytes {
                try reader.read(at: UInt64(offset), into: UnsafeMutableRawBufferPointer(rebasing: $0[offset...]))
            }
        }
        #expect(read == bytes)
        #expect(opener.count == 3)
        // Each wrapped key's authenticated description names its stream and segment, as the request does: what
        // the keys service holds a request to.
        #expect(
            opener.wrappedKeys.compactMap { $0.describedSegment.map { "\($0.stream) \($0.segment)" } }.sorted()
                == ["ee.opener 0", "ee.opener 1", "ee.opener 2"])
        #expect(opener.wrappedKeys.allSatisfy { $0.describedSegment?.stream == $0.stream })
        #expect(opener.wrappedKeys.allSatisfy { $0.describedSegment?.segment == $0.segment })
        var garbled = opener.wrappedKeys[0]
        garbled.description = Array(garbled.description.prefix(20))
        #expect(garbled.describedSegment == nil)
    }

    @Test("members are readable by the writer's group and writable by its user alone (the reader opens them)")
    func memberPermissions() throws {
        let array = try ArrayFixture(dataShards: 2, parityShards: 1, memberCount: 3, shardBytes: 512 << 10)
        defer { array.remove() }
        _ = try Self.writeStream(array, segments: 2)
        let store = try array.open()
        let appender = try store.openAppender(for: try StreamName("ee.tail"))
        try appender.append([1, 2, 3])
        _ = try appender.makeDurable()
        defer {
            appender.close()
            store.shutdown()
        }
        var checked = 0
        for member in array.members {
            let enumerator = FileManager.default.enumerator(atPath: member.string)
            while let relative = enumerator?.nextObject() as? String {
                var status = stat()
                #expect(lstat("\(member)/\(relative)", &status) == 0)
                let mode = status.st_mode & 0o777
                #expect(mode & 0o027 == 0, "\(relative): \(String(mode, radix: 8))")
                // The lock that keeps two appenders of a stream apart is the writer's alone; the reader takes none.
                if !relative.hasSuffix("appender.lock") {
                    #expect(mode & 0o040 != 0, "\(relative): \(String(mode, radix: 8))")
                    checked += 1
                }
            }
        }
        #expect(checked > 10)
    }

    @Test("a locked opener stops the read with its reason, and a scrub neither blames nor rewrites a shard")
    func lockedOpenerHarmsNothing() throws {
        let array = try ArrayFixture()
        defer { array.remove() }
        _ = try Self.writeStream(array, segments: 2)
        let before = try array.members.map { try FileManager.default.subpathsOfDirectory(atPath: $0.string).sorted() }
        let store = try ErasureCodedStore(
            members: array.members,
            keys: try StorageKeys(
                storagePublicKey: array.storagePrivateKey.publicKey, segmentKeys: LockedOpener(),
                journalKey: array.keys.journalKey))
        defer { store.shutdown() }
        let reader = try store.openReader(for: try StreamName("ee.opener"))
        defer { reader.close() }
        var buffer = [UInt8](repeating: 0, count: 1024)
        let error = #expect(throws: StreamStorageError.self) {
            _ = try buffer.withUnsafeMutableBytes { try reader.read(at: 0, into: $0) }
        }
        #expect(error?.kind == .configuration)
        #expect("\(error.map { "\($0)" } ?? "")".contains("sealed (test)"))
        let report = store.scrub()
        #expect(report.shardsDamaged == 0, "\(report)")
        #expect(report.shardsRepaired == 0, "\(report)")
        #expect(report.unrepairable.isEmpty, "\(report)")
        let after = try array.members.map { try FileManager.default.subpathsOfDirectory(atPath: $0.string).sorted() }
        #expect(after == before)
    }
}
