import ArgumentParser
import CryptoPrimitives
import DurableFiles
import ErasureStore
import HashChain
import StoreFormat
import StreamStore
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// A writer for the crash tests: appends ``StreamPattern`` bytes to one stream of an ``ErasureCodedStore`` until a
/// total length is durable, and prints one line after every durability promise, so a test that kills it at any
/// instant knows exactly what was promised:
///
///     OPEN <durable length> <head hex>     once, after recovery, before the first append
///     ACK <durable length> <head hex>      after each makeDurable() returned
///
/// Lines go out with write(2) on standard output, unbuffered: a line exists only after its promise was made, and a
/// kill never loses a line that a promise was made for.
@main
struct CrashWriterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "StoreCrashWriter", abstract: "Appends a reproducible stream and reports each durable length.")

    @Option(name: .customLong("member"), help: "A member directory of the array; repeat for each member.")
    var members: [String]

    @Option(help: "A directory holding storage-private.key and journal.key, 32 raw bytes each.")
    var keys: String

    @Option(help: "The stream to append to.")
    var stream: String

    @Option(help: "The seed of the stream's bytes (see StreamPattern).")
    var seed: UInt64

    @Option(help: "Exit once this many bytes are durable.")
    var total: UInt64

    @Option(help: "The smallest append, in bytes.")
    var minimumAppend = 100

    @Option(help: "The largest small append, in bytes.")
    var maximumSmallAppend = 64 << 10

    @Option(help: "The largest large append, in bytes.")
    var maximumLargeAppend = 3 << 20

    @Option(help: "One append in this many is large.")
    var largeAppendOdds = 4

    @Option(help: "Append at most this many bytes per second on average (0: no limit).")
    var bytesPerSecond = 0

    @Option(help: "The most appends between two makeDurable() calls.")
    var appendsPerPromise = 4

    func validate() throws {
        guard !members.isEmpty else { throw ValidationError("give the members with --member") }
        guard 0 < minimumAppend, minimumAppend <= maximumSmallAppend, maximumSmallAppend <= maximumLargeAppend,
            appendsPerPromise >= 1, largeAppendOdds >= 1, bytesPerSecond >= 0
        else { throw ValidationError("need 0 < minimum ≤ small maximum ≤ large maximum, odds ≥ 1 and a rate ≥ 0") }
    }

    func run() throws {
        let store = try ErasureCodedStore(members: members.map { FilePath($0) }, keys: try loadKeys())
        let appender = try store.openAppender(for: try StreamName(stream))
        defer { appender.close() }
        try report("OPEN", length: appender.durableLength, head: appender.durableHead)
        // The sizes depend on where this run starts, so each restart cuts the stream into different appends; the
        // bytes themselves depend only on their offsets.
        var sizes = SizeGenerator(seed: seed ^ (appender.durableLength &* 0x9E37_79B9_7F4A_7C15))
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: maximumLargeAppend, alignment: 8)
        defer { buffer.deallocate() }
        let pace = Pace(bytesPerSecond: bytesPerSecond, from: appender.durableLength)
        while appender.durableLength < total {
            for _ in 0..<(1 + Int(sizes.next() % UInt64(appendsPerPromise))) {
                let remaining = total - appender.appendedLength
                guard remaining > 0 else { break }
                pace.wait(before: appender.appendedLength)
                let size = Int(min(remaining, UInt64(nextSize(&sizes))))
                let piece = UnsafeMutableRawBufferPointer(rebasing: buffer[..<size])
                StreamPattern.fill(piece, seed: seed, offset: appender.appendedLength)
                try appender.append(UnsafeRawBufferPointer(piece))
            }
            _ = try appender.makeDurable()
            try report("ACK", length: appender.durableLength, head: appender.durableHead)
        }
    }

    private func nextSize(_ sizes: inout SizeGenerator) -> Int {
        let maximum = sizes.next() % UInt64(largeAppendOdds) == 0 ? maximumLargeAppend : maximumSmallAppend
        return minimumAppend + Int(sizes.next() % UInt64(maximum - minimumAppend + 1))
    }

    private func loadKeys() throws -> StorageKeys {
        let directory = FilePath(keys)
        let privateKey = try X25519PrivateKey(
            rawRepresentation: SecretBytes(try FileSystemCalls.readAll(directory.appending("storage-private.key"))))
        let journalKey = SecretBytes(try FileSystemCalls.readAll(directory.appending("journal.key")))
        return try StorageKeys(
            storagePublicKey: privateKey.publicKey, storagePrivateKey: privateKey, journalKey: journalKey)
    }

    private func report(_ word: String, length: UInt64, head: ChainHead) throws {
        let line = Array("\(word) \(length) \(head)\n".utf8)
        _ = try line.withUnsafeBytes { try FileDescriptor.standardOutput.writeAll($0) }
    }
}

/// SplitMix64: the append sizes and batch lengths, reproducible from a seed.
struct SizeGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Holds the writer to an average rate, sleeping between appends when it is ahead. A test that kills the writer at
/// a random instant then finds it at any stage of a stream longer than one burst: between the appends of a batch,
/// with sealed segments not yet flushed, or in the middle of a flush, not only at the end of a stream written at
/// full speed.
struct Pace {
    private let bytesPerSecond: Int
    private let startLength: UInt64
    private let clock = ContinuousClock()
    private let start: ContinuousClock.Instant

    init(bytesPerSecond: Int, from length: UInt64) {
        self.bytesPerSecond = bytesPerSecond
        startLength = length
        start = clock.now
    }

    /// Sleeps until appending beyond `length` keeps to the rate.
    func wait(before length: UInt64) {
        guard bytesPerSecond > 0 else { return }
        let due = Duration.seconds(Double(length - startLength) / Double(bytesPerSecond))
        let ahead = due - start.duration(to: clock.now)
        guard ahead > .zero else { return }
        let (seconds, attoseconds) = ahead.components
        usleep(UInt32(seconds * 1_000_000 + attoseconds / 1_000_000_000_000))
    }
}
