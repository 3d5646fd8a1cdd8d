internal import CLibsystemd
internal import DurableFiles
import SystemPackage

// For getenv, and the errno sd_journal_* report; the calls into the kernel go through DurableFiles.
#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Structured logging to systemd-journald.
public enum Journal {
    /// Writes one journal entry with MESSAGE, PRIORITY and the given extra fields.
    ///
    /// Values may contain any bytes, including newlines; names must be journal field names (see
    /// ``isValidFieldName(_:)``). When no journald is listening the entry is dropped silently, as libsystemd does:
    /// logging must not fail a service that runs outside systemd.
    ///
    /// - Throws: ``SystemdError`` for an invalid field name (nothing is sent then), or when journald's socket exists
    ///   but refused the entry.
    public static func send(
        message: String, priority: JournalPriority, fields: [String: String] = [:]
    ) throws {
        for name in fields.keys where !isValidFieldName(name) || reservedFieldNames.contains(name) {
            throw SystemdError.invalidFieldName(name)
        }
        // Sorted so that the same call always produces the same entry layout.
        let entries =
            ["MESSAGE=\(message)", "PRIORITY=\(priority.rawValue)"]
            + fields.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        let result = sendv(entries)
        if result < 0 {
            throw SystemdError.journalSendFailed(errorNumber: -result)
        }
    }

    /// Whether journald would accept `name` as a field set by a client: 1 to 64 characters of `A`–`Z`, `0`–`9` and
    /// `_`, not starting with a digit, and not starting with `_` (those are trusted fields journald adds itself).
    public static func isValidFieldName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard let first = bytes.first, bytes.count <= 64 else { return false }
        guard first != UInt8(ascii: "_"), !isDigit(first) else { return false }
        return bytes.allSatisfy { isDigit($0) || isUppercaseLetter($0) || $0 == UInt8(ascii: "_") }
    }

    /// Set by ``send(message:priority:fields:)`` itself; passing them again would make the entry ambiguous.
    private static let reservedFieldNames: Set<String> = ["MESSAGE", "PRIORITY"]

    private static func isDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    private static func isUppercaseLetter(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
    }

    /// Lays all entries out in one buffer so that every iovec points into memory that lives for the whole call.
    private static func sendv(_ entries: [String]) -> Int32 {
        var storage: [UInt8] = []
        var ranges: [Range<Int>] = []
        for entry in entries {
            let start = storage.count
            storage.append(contentsOf: entry.utf8)
            ranges.append(start..<storage.count)
        }
        return storage.withUnsafeMutableBytes { buffer in
            guard let base = buffer.baseAddress else { return -EINVAL }
            let vectors = ranges.map { iovec(iov_base: base + $0.lowerBound, iov_len: $0.count) }
            return vectors.withUnsafeBufferPointer { sd_journal_sendv($0.baseAddress, Int32($0.count)) }
        }
    }
}

extension Journal {
    /// Whether this process's standard error goes straight to the journal, i.e. the service manager connected it
    /// to journald and it was not redirected since.
    ///
    /// systemd sets JOURNAL_STREAM to "`device`:`inode`" of that stream (systemd.exec(5)); a child process
    /// inherits the variable even when its stderr is a pipe or a file, so the variable is only trusted when it
    /// matches stderr's own device and inode. A logger uses this to choose structured journal entries over text.
    public static var isConnectedToJournal: Bool {
        guard let value = getenv("JOURNAL_STREAM") else { return false }
        let parts = String(cString: value).split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        guard let standardError = ProcessCalls.identity(of: .standardError) else { return false }
        return standardError.device == device && standardError.inode == inode
    }
}

/// The syslog severity of a journal entry (the PRIORITY field), most severe first.
public enum JournalPriority: Int, Sendable, CaseIterable {
    /// The system is unusable.
    case emergency = 0
    /// Action must be taken immediately.
    case alert = 1
    /// Critical conditions.
    case critical = 2
    /// Error conditions.
    case error = 3
    /// Warning conditions.
    case warning = 4
    /// Normal but significant condition.
    case notice = 5
    /// Informational messages.
    case info = 6
    /// Debug-level messages.
    case debug = 7
}
