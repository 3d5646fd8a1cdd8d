import CryptoPrimitives
import DurableFiles
import ErasureStore
import Foundation
import StoreFormat
import StreamStore
import SystemPackage

/// Random bytes to append, made once before any timing, so that nothing on the way (filesystem, codec, disk) can
/// compress or skip them, and both sides of a comparison write the same bytes.
///
/// Pieces start at 4 KiB-aligned offsets of an 8 MiB window that successive indices visit in a scrambled order.
struct RandomPool: Sendable {
    private static let windowBytes = 8 << 20
    private static let alignment = 4096
    private let bytes: [UInt8]
    /// The length of every piece.
    let pieceBytes: Int

    init(pieceBytes: Int) throws {
        self.pieceBytes = pieceBytes
        bytes = try CryptoRandom.bytes(count: Self.windowBytes + pieceBytes)
    }

    private func offset(of index: Int) -> Int {
        let slots = Self.windowBytes / Self.alignment
        // 40503 is odd and slots a power of two, so consecutive indices visit every slot before repeating one.
        return (index &* 40503 & (slots - 1)) * Self.alignment
    }

    /// Lends piece `index`.
    func withPiece<Result>(_ index: Int, _ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        let start = offset(of: index)
        return try bytes.withUnsafeBytes { bytes in
            try body(UnsafeRawBufferPointer(rebasing: bytes[start..<(start + pieceBytes)]))
        }
    }

    /// A copy of piece `index`, for interfaces that take an array.
    /// Writes `total` bytes of consecutive pieces through `write`, calling `flush` after every `flushEvery` bytes
    /// (if given) and at the end: the raw baseline and the store are fed alike.
    func feed(
        total: Int, flushEvery: Int?, write: (UnsafeRawBufferPointer) throws -> Void, flush: () throws -> Void
    ) throws {
        var written = 0
        var sinceFlush = 0
        var index = 0
        while written < total {
            let count = min(pieceBytes, total - written)
            try withPiece(index) { try write(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
            written += count
            sinceFlush += count
            index += 1
            if let flushEvery, sinceFlush >= flushEvery {
                try flush()
                sinceFlush = 0
            }
        }
        try flush()
    }

    func piece(_ index: Int) -> [UInt8] {
        withPiece(index) { Array($0) }
    }
}

/// The baseline's file: plain writes to one file, flushed with fdatasync.
struct RawFile {
    private let descriptor: FileDescriptor
    private let path: FilePath

    /// Creates (or truncates) the file.
    init(_ path: FilePath) throws {
        self.path = path
        descriptor = try FileDescriptor.open(
            path, .writeOnly, options: [.create, .truncate, .closeOnExec], permissions: [.ownerReadWrite])
    }

    /// Appends `bytes`.
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        _ = try descriptor.writeAll(bytes)
    }

    /// Flushes the data written so far and the size that reads it back (fdatasync).
    func flush() throws {
        try FileSystemCalls.synchroniseData(descriptor)
    }

    /// Closes and deletes the file.
    func remove() {
        try? descriptor.close()
        try? FileSystemCalls.remove(path)
    }

    /// Writes `total` bytes of `pool` pieces sequentially, with an fdatasync after every `flushEvery` bytes (when
    /// given) and at the end, and returns how long it took, from the first write to the last flush.
    static func sequentialWrite(
        to path: FilePath, total: Int, flushEvery: Int?, pool: RandomPool
    ) throws -> Duration {
        let file = try RawFile(path)
        defer { file.remove() }
        return try Stopwatch.timeFromSettled {
            try pool.feed(total: total, flushEvery: flushEvery, write: file.write, flush: file.flush)
        }
    }
}

/// A benchmark's own directory under the work directory, removed at the end.
struct WorkDirectory {
    /// The directory.
    let path: FilePath

    /// Creates `work/name`, emptying what an interrupted earlier run left there.
    init(work: String, name: String) throws {
        path = FilePath(work).appending(name)
        try? FileManager.default.removeItem(atPath: path.string)
        try FileSystemCalls.createDirectories(path)
    }

    /// Writes `bytes` to a file here, flushes and deletes it, untimed, so that what the benchmark then writes
    /// lands on blocks the device has already stored once.
    ///
    /// A virtual disk backed by a sparse file (as on the development and CI machines) writes blocks it has never
    /// stored several times slower than blocks it has; without this, whichever side ran first would pay for it.
    func condition(bytes: Int, pool: RandomPool) throws {
        let took = try RawFile.sequentialWrite(
            to: path.appending("conditioning"), total: bytes, flushEvery: 256 << 20, pool: pool)
        Report.line("  conditioning: wrote and deleted \(bytes >> 20) MiB in \(Report.secondsText(took)), untimed")
    }

    /// Removes the directory and everything in it.
    func remove() {
        try? FileManager.default.removeItem(atPath: path.string)
    }
}

/// A fresh array whose members are directories on the filesystem under test, with fresh keys.
struct BenchmarkArray {
    /// The directory that holds the members.
    let directory: FilePath
    /// The member directories, in member order.
    let members: [FilePath]
    /// The keys of the array: the writer's public key, the private key for reads, a journal key.
    let keys: StorageKeys
    /// The array's geometry.
    let geometry: ArrayGeometry

    /// Labels `geometry.memberCount` new directories under `directory` as the members of a new array.
    init(in directory: FilePath, geometry: ArrayGeometry = .twelveBay) throws {
        self.directory = directory
        self.geometry = geometry
        members = (0..<geometry.memberCount).map { directory.appending("member-\($0)") }
        _ = try ErasureCodedStore.create(members: members, geometry: geometry)
        let storageKey = try X25519PrivateKey()
        keys = try StorageKeys(
            storagePublicKey: storageKey.publicKey, storagePrivateKey: storageKey,
            journalKey: try CryptoRandom.secretBytes(count: 32))
    }

    /// Removes every member directory and everything in them.
    func remove() {
        try? FileManager.default.removeItem(atPath: directory.string)
    }

    /// Assembles the store from the member directories.
    func open() throws -> ErasureCodedStore {
        try ErasureCodedStore(members: members, keys: keys)
    }

    /// Appends `total` bytes of `pool` pieces to `stream` and makes them durable after every `durableEvery` bytes
    /// and at the end; returns how long that took, from the first append to the last acknowledgement.
    func ingest(
        _ stream: StreamName, total: Int, durableEvery: Int, pool: RandomPool, store: ErasureCodedStore
    ) throws -> Duration {
        let appender = try store.openAppender(for: stream)
        defer { appender.close() }
        let duration = try Stopwatch.timeFromSettled {
            try pool.feed(
                total: total, flushEvery: durableEvery, write: { try appender.append($0) },
                flush: { _ = try appender.makeDurable() })
        }
        guard appender.durableLength == UInt64(total) else {
            throw BenchmarkFailure("the store acknowledged \(appender.durableLength) bytes of \(total)")
        }
        return duration
    }
}
