import CryptoPrimitives
import DurableFiles
import Foundation
import Synchronization
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// The appliance's chain of custody: an append-only, hash-chained log in one file, one record per line
/// (docs/custody-log.md). Every disk in and out, every adoption refused, every key event and technician action is
/// appended here, durably, before the action is reported done; attestation signs its head.
///
/// Opening reads the whole file and verifies the chain. A last line without its newline is what a crash in the middle
/// of an append leaves: it is cut off, and ``repair`` says so. Any other break is an error that names its line, and
/// such a log is never opened for appends, nor rewritten: it is evidence. One process appends at a time (an exclusive
/// lock on the file); within it, appends from any thread are serialised.
public final class CustodyLog: Sendable {
    /// What opening the log cut off: the torn last line that a crash mid-append left.
    public struct Repair: Sendable, Hashable, CustomStringConvertible {
        /// The line that was cut (1-based): the one after the last complete record.
        public let line: Int
        /// How many bytes it had.
        public let discardedBytes: Int

        public var description: String {
            "custody log line \(line): \(discardedBytes) bytes of a torn last line (an append cut short by a crash) "
                + "were cut off; every record before it is kept"
        }
    }

    struct State: ~Copyable {
        var head: CustodyRecord?
        /// The hex SHA-256 of the last line, the next record's `prev`.
        var headLineHash: String
        /// Where the next line goes: the file's length.
        var length: Int64
        /// Why appends are refused (an earlier append failed part way, or the log was closed), or nil.
        var refusal: CustodyLogError?
        /// Whether ``close()`` released the file (and its lock) already.
        var closed = false
        /// The copies every append also goes to (``attachCopy(at:)``), with their lengths.
        var copies: [FilePath: AttachedCopy] = [:]
        /// Copies an append could not write, dropped from ``copies`` until attached again, with why.
        var lostCopies: [LostCopy] = []
        /// For each other log whose records were copied into this one (``importRecords(of:as:)``), the last
        /// record copied: its seq and hash there.
        var imported: [String: ImportedPosition] = [:]
        /// Where in each source's file the copying stopped, once this process has read it whole.
        var importCursors: [String: ImportCursor] = [:]
        /// The services' watchdog history, as the records so far tell it.
        var history = ServiceHistory()
    }

    /// The log's file.
    public let path: FilePath
    /// What opening cut off, or nil when the file ended with a complete record.
    public let repair: Repair?
    let descriptor: FileDescriptor
    private let now: @Sendable () -> Date
    let state: Mutex<State>

    /// Opens the log at `path`, creating it (mode 0640) if absent, reads and verifies the whole chain, and finds the
    /// head. Cuts off a torn last line (see ``repair``); throws, naming the line, on any other break.
    public init(path: FilePath, now: @Sendable @escaping () -> Date = Date.init) throws {
        self.path = path
        self.now = now
        let descriptor = try Self.openOrCreate(path)
        do {
            guard try FileSystemCalls.lockExclusivelyWithoutWaiting(descriptor) else {
                throw CustodyLogError(.inUse, "\(path) is open for appends in another process; stop that one first")
            }
            let (verified, repair) = try Self.readAndRepair(descriptor, path: path)
            self.repair = repair
            self.descriptor = descriptor
            state = Mutex(
                State(
                    head: verified.head, headLineHash: verified.headLineHash ?? CustodyRecord.firstPrevious,
                    length: verified.length, refusal: nil, imported: verified.imported, history: verified.history))
        } catch {
            FileSystemCalls.release(descriptor)
            throw error
        }
    }

    deinit {
        close()
    }

    /// Releases the file and its lock, so that another opening (a restarted service) may append; every append after
    /// this throws.
    public func close() {
        state.withLock { state in
            guard !state.closed else { return }
            state.closed = true
            state.refusal = CustodyLogError(.appendsRefused, "\(path) was closed")
            FileSystemCalls.release(descriptor)
            for copy in state.copies.values { FileSystemCalls.release(copy.descriptor) }
            state.copies = [:]
        }
    }

    /// The services' watchdog history, read from every record so far.
    public var serviceHistory: ServiceHistory {
        state.withLock { $0.history }
    }

    /// The last record, or nil while the log is empty.
    public var head: CustodyRecord? {
        state.withLock { $0.head }
    }

    /// Appends `event` as the next record, with the time now, and returns it once it is durable (written and
    /// flushed). Throws without appending when the event breaks the rules (``CustodyRecord/maximumFields`` and the
    /// names' characters); after a failed write or flush it throws, and so does every later append until the log is
    /// reopened (which cuts off whatever part of the line reached the disk).
    @discardableResult
    public func append(_ event: CustodyEvent) throws -> CustodyRecord {
        if let problem = CustodyRecord.problem(with: event) {
            throw CustodyLogError(.invalidEvent, "cannot append: \(problem)")
        }
        let time = Self.timestamp(now())
        let outcome = state.withLock { (state: inout State) -> Result<CustodyRecord, CustodyLogError> in
            if let refusal = state.refusal { return .failure(refusal) }
            let record = CustodyRecord(
                seq: (state.head?.seq ?? 0) + 1, time: time, event: event, prev: state.headLineHash)
            let line = record.line
            let bytes = line + [UInt8(ascii: "\n")]
            if let error = writeDurably(bytes, at: state.length, to: descriptor) {
                let failure = CustodyLogError(
                    .appendsRefused,
                    "an append to \(path) failed (\(error)); no more appends until the log is reopened, which cuts "
                        + "off the part of the line that was written")
                state.refusal = failure
                return .failure(failure)
            }
            state.length += Int64(bytes.count)
            state.head = record
            state.headLineHash = CustodyRecord.hex(SHA256.hash(line))
            if let position = ImportedPosition(of: record) { state.imported[position.source] = position }
            state.history.observe(record)
            // A copy that cannot take the line leaves the set (its disk failed or was pulled); the log itself has
            // the record, and the copy is caught up when it is attached again.
            for (copyPath, copy) in state.copies {
                if let error = writeDurably(bytes, at: copy.length, to: copy.descriptor) {
                    FileSystemCalls.release(copy.descriptor)
                    state.copies[copyPath] = nil
                    state.lostCopies.append(LostCopy(path: copyPath, reason: "an append failed: \(error)"))
                } else {
                    state.copies[copyPath]?.length += Int64(bytes.count)
                }
            }
            return .success(record)
        }
        return try outcome.get()
    }

    /// Writes `bytes` at `offset` and flushes them; the error, or nil once they are durable. (Returned rather than
    /// thrown: typed throws inside the lock's and the buffer's closures crash this compiler.)
    func writeDurably(_ bytes: [UInt8], at offset: Int64, to descriptor: FileDescriptor) -> Errno? {
        let written = bytes.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) -> Errno? in
            do {
                try FileSystemCalls.writeAll(descriptor, buffer, at: offset)
                return nil
            } catch {
                return error as? Errno ?? .ioError
            }
        }
        if let written { return written }
        do {
            try FileSystemCalls.synchroniseData(descriptor)
            return nil
        } catch {
            return error
        }
    }

    /// RFC 3339 in UTC with milliseconds: `2026-12-05T23:58:50.123Z`.
    static func timestamp(_ date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var seconds = time_t(milliseconds >= 0 ? milliseconds / 1000 : (milliseconds - 999) / 1000)
        let fraction = Int(milliseconds - Int64(seconds) * 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func padded(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(padded(parts.tm_year + 1900, 4))-\(padded(parts.tm_mon + 1, 2))-\(padded(parts.tm_mday, 2))T"
            + "\(padded(parts.tm_hour, 2)):\(padded(parts.tm_min, 2)):\(padded(parts.tm_sec, 2))."
            + "\(padded(Int32(fraction), 3))Z"
    }
}
