import DurableFiles
import Foundation
import HashChain
import SystemPackage

/// What one appliance still lacks of one stream, as home records it: home's copy holds `homeLength` bytes in the
/// file `source`, the appliance acknowledged `acknowledged` of them, and it has lacked some since `behindSince`.
///
/// A record exists from the moment a send to that appliance starts until the appliance holds the whole stream, so
/// `saatkond lag` shows sends in flight as well as appliances that were unreachable; one left behind when a send
/// ends is the appliance's durable cursor, from which `saatkond catch-up` finishes the stream.
public struct Backlog: Sendable, Hashable {
    /// The appliance's configured name.
    public var appliance: String
    /// The stream.
    public var stream: String
    /// The bytes of home's copy: the stream's length once the appliance catches up.
    public var homeLength: UInt64
    /// The bytes the appliance acknowledged as durable, as far as home has heard.
    public var acknowledged: UInt64
    /// When home first held a byte that the appliance does not (milliseconds since 1970).
    public var behindSince: UInt64
    /// The file holding home's copy of the whole stream: the sent file, or its copy in home's spool.
    public var source: String
    /// The hash-chain head of home's copy, once the send that left the appliance behind has ended: a catch-up sends
    /// the source only while it still hashes to this, so a file changed or replaced at home is never sent as the
    /// stream. Nil in a record of a send still running (or killed while running).
    public var head: ChainHead?

    /// Creates a record.
    public init(
        appliance: String, stream: String, homeLength: UInt64, acknowledged: UInt64, behindSince: UInt64,
        source: String, head: ChainHead? = nil
    ) {
        self.head = head
        self.appliance = appliance
        self.stream = stream
        self.homeLength = homeLength
        self.acknowledged = acknowledged
        self.behindSince = behindSince
        self.source = source
    }

    /// The record's file content: one `key value` line each.
    public var text: String {
        """
        stream \(stream)
        home-length \(homeLength)
        acknowledged \(acknowledged)
        behind-since \(behindSince)
        source \(source)

        """ + (head.map { "head \($0)\n" } ?? "")
    }

    /// Parses a record's file content, written for `appliance`. Home's disk is trusted no more than any file: a
    /// truncated or altered record is an error that names what is wrong, never a record with made-up numbers.
    public init(appliance: String, parsing text: String) throws(BacklogRecordError) {
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let space = line.firstIndex(of: " ") else { throw BacklogRecordError("a line without a value") }
            let key = String(line[..<space])
            guard values[key] == nil else { throw BacklogRecordError("'\(key)' appears twice") }
            values[key] = String(line[line.index(after: space)...])
        }
        guard let stream = values["stream"], !stream.isEmpty, let source = values["source"], !source.isEmpty else {
            throw BacklogRecordError("'stream' or 'source' is missing")
        }
        var head: ChainHead?
        if let text = values["head"] {
            guard let parsed = ChainHead(hex: text) else { throw BacklogRecordError("'head' is not a head") }
            head = parsed
        }
        guard values.count == (head == nil ? 5 : 6) else { throw BacklogRecordError("unknown keys") }
        self.init(
            appliance: appliance, stream: stream, homeLength: try Self.number("home-length", in: values),
            acknowledged: try Self.number("acknowledged", in: values),
            behindSince: try Self.number("behind-since", in: values), source: source, head: head)
        guard acknowledged <= homeLength else {
            throw BacklogRecordError("acknowledged \(acknowledged) is beyond home's \(homeLength) bytes")
        }
    }
}

extension Backlog {
    fileprivate static func number(_ key: String, in values: [String: String]) throws(BacklogRecordError) -> UInt64 {
        guard let text = values[key], let value = UInt64(text) else {
            throw BacklogRecordError("'\(key)' is missing or not a number")
        }
        return value
    }
}

/// Why a backlog record cannot be read.
public struct BacklogRecordError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong.
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}

/// Home's record directory (`state =` in the sender configuration):
///
///     backlog/<appliance>/<stream>   a ``Backlog`` per stream an appliance is being sent or still lacks
///     spool/<stream>                 home's copy of a stream whose source goes away (a WAL file PostgreSQL recycles,
///                                    standard input), kept until every appliance holds it
///     unreachable/<appliance>        until when (milliseconds since 1970) sends skip an appliance that failed
///     catch-up.lock                  held by the one `saatkond catch-up` that runs; holds its process id
///
/// The user that sends owns it (PostgreSQL's `postgres` for wal-push). Records are replaced by rename, so a reader
/// never sees half a record; those that outlive their send are flushed before the send reports success.
public struct HomeRecords: Sendable {
    /// The directory.
    public let directory: FilePath

    /// Records in `directory`, which is created on first use.
    public init(directory: FilePath) {
        self.directory = directory
    }

    var backlogDirectory: FilePath { directory.appending("backlog") }
    var spoolDirectory: FilePath { directory.appending("spool") }
    var unreachableDirectory: FilePath { directory.appending("unreachable") }
    /// The lock file of the running catch-up.
    public var catchUpLock: FilePath { directory.appending("catch-up.lock") }

    /// Writes `backlog`, replacing the appliance's record of that stream; `durable` flushes it (and its directory),
    /// for a record that must outlive the process.
    public func record(_ backlog: Backlog, durable: Bool) throws {
        let folder = backlogDirectory.appending(backlog.appliance)
        try FileSystemCalls.createDirectories(folder)
        try Self.replace(folder.appending(backlog.stream), with: Array(backlog.text.utf8), durable: durable)
    }

    /// Removes the appliance's record of `stream`: it holds the whole stream. Removing one that is gone is no error.
    public func remove(appliance: String, stream: String) throws {
        do {
            try FileSystemCalls.remove(backlogDirectory.appending(appliance).appending(stream))
        } catch Errno.noSuchFileOrDirectory {
            return
        }
    }

    /// Every appliance's records, sorted by appliance and stream. A record that cannot be read is reported, not
    /// skipped: it stands for bytes an appliance may lack.
    public func backlogs() throws -> [Backlog] {
        var found: [Backlog] = []
        for appliance in try Self.entries(of: backlogDirectory) where SenderConfiguration.isValidName(appliance) {
            found += try backlogs(of: appliance)
        }
        return found
    }

    /// The appliance's record of `stream`, if it has one. One file is read, however long the backlog: a send reads
    /// this for every stream, and an appliance that was away for a day has a backlog of 86 400 WAL files.
    public func backlog(of appliance: String, stream: String) throws -> Backlog? {
        let path = backlogDirectory.appending(appliance).appending(stream)
        let text: String
        switch Result(catching: { () throws(Errno) -> [UInt8] in try FileSystemCalls.readAll(path) }) {
        case .success(let bytes): text = String(decoding: bytes, as: UTF8.self)
        // None, or removed meanwhile by the send or catch-up that brought the appliance up to date.
        case .failure(.noSuchFileOrDirectory): return nil
        case .failure(let error): throw error
        }
        let parsed = Result { () throws(BacklogRecordError) -> Backlog in
            try Backlog(appliance: appliance, parsing: text)
        }
        switch parsed {
        case .success(let backlog):
            // The name of the file is what sends look up; a record that names another stream is not this one's.
            guard backlog.stream == stream else {
                throw BacklogRecordError("\(path): the record is of stream \(backlog.stream)")
            }
            return backlog
        case .failure(let error): throw BacklogRecordError("\(path): \(error.description)")
        }
    }

    /// Whether `appliance` lacks anything, without reading its records.
    public func hasBacklog(_ appliance: String) -> Bool {
        let folder = backlogDirectory.appending(appliance)
        // A folder that cannot be listed reads as a backlog: a catch-up started for nothing finds nothing to do.
        guard FileSystemCalls.exists(folder) else { return false }
        return (try? FileSystemCalls.entries(of: folder).contains { !$0.hasSuffix("~") }) ?? true
    }

    /// The records of one appliance, sorted by stream (for WAL files, the order PostgreSQL wrote them).
    public func backlogs(of appliance: String) throws -> [Backlog] {
        try Self.entries(of: backlogDirectory.appending(appliance)).filter { !$0.hasSuffix("~") }.compactMap {
            try backlog(of: appliance, stream: $0)
        }
    }

    /// The sorted names in `directory`; none when it does not exist yet.
    private static func entries(of directory: FilePath) throws -> [String] {
        guard FileSystemCalls.exists(directory) else { return [] }
        return try FileSystemCalls.entries(of: directory).sorted()
    }

    /// Copies `source` into the spool as home's copy of `stream`, durably, and returns the copy's path.
    public func spool(_ source: FilePath, as stream: String) throws -> FilePath {
        let target = spoolDestination(of: stream)
        if source == target { return target }
        let input = try FileSystemCalls.open(source, .readOnly, options: [.closeOnExec])
        defer { FileSystemCalls.release(input) }
        return try spool(input, as: stream)
    }

    /// Copies everything `input` holds (standard input, say) into the spool as home's copy of `stream`: written
    /// aside, flushed, renamed into place and the directory flushed, so the copy is whole or absent after a crash.
    public func spool(_ input: FileDescriptor, as stream: String) throws -> FilePath {
        try FileSystemCalls.createDirectories(spoolDirectory)
        let target = spoolDestination(of: stream)
        let temporary = FilePath(target.string + "~")
        let output = try FileSystemCalls.open(
            temporary, .writeOnly, options: [.create, .truncate, .closeOnExec], permissions: [.ownerReadWrite])
        do {
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
            defer { buffer.deallocate() }
            while true {
                let count = try FileSystemCalls.readSome(input, into: buffer)
                if count == 0 { break }
                try FileSystemCalls.writeAll(output, UnsafeRawBufferPointer(rebasing: buffer[..<count]))
            }
            try FileSystemCalls.synchroniseData(output)
            try FileSystemCalls.close(output)
        } catch {
            FileSystemCalls.release(output)
            throw error
        }
        try FileSystemCalls.rename(temporary, to: target)
        try FileSystemCalls.synchroniseDirectory(spoolDirectory)
        return target
    }

    /// Where home's spooled copy of `stream` is, or goes.
    public func spoolDestination(of stream: String) -> FilePath {
        spoolDirectory.appending(stream)
    }

    /// The hash-chain head of the file at `path`, which must hold exactly `length` bytes.
    public static func head(of path: FilePath, length: UInt64) throws -> ChainHead {
        let input = try FileSystemCalls.open(path, .readOnly, options: [.closeOnExec])
        defer { FileSystemCalls.release(input) }
        let chain = try StreamHashChain.reading(input)
        guard chain.length == length else {
            throw BacklogRecordError("\(path) holds \(chain.length) bytes, not the \(length) that were sent")
        }
        return chain.head
    }

    /// Removes the spooled copy of `stream` once no appliance's record of that stream remains (one file per appliance
    /// is looked at, not every record).
    public func releaseSpool(of stream: String) throws {
        let path = spoolDirectory.appending(stream)
        guard FileSystemCalls.exists(path) else { return }
        for appliance in try Self.entries(of: backlogDirectory)
        where FileSystemCalls.exists(backlogDirectory.appending(appliance).appending(stream)) {
            return
        }
        try FileSystemCalls.remove(path)
    }

    /// Whether an appliance's record still needs the spooled copy of `stream`.
    public func spoolIsNeeded(for stream: String) throws -> Bool {
        try Self.entries(of: backlogDirectory).contains {
            FileSystemCalls.exists(backlogDirectory.appending($0).appending(stream))
        }
    }

    /// Sends skip `appliance` until `time` (milliseconds since 1970): it failed, and every WAL file waiting for it
    /// would otherwise wait for its timeout too.
    public func markUnreachable(_ appliance: String, until time: UInt64) throws {
        try FileSystemCalls.createDirectories(unreachableDirectory)
        try Self.replace(unreachableDirectory.appending(appliance), with: Array("\(time)\n".utf8), durable: false)
    }

    /// Forgets that `appliance` was unreachable.
    public func markReachable(_ appliance: String) throws {
        do {
            try FileSystemCalls.remove(unreachableDirectory.appending(appliance))
        } catch Errno.noSuchFileOrDirectory {
            return
        }
    }

    /// Until when sends skip `appliance`; nil when they do not. A mark that cannot be read is no mark: the send
    /// then tries the appliance, which costs time but never loses a byte.
    public func unreachableUntil(_ appliance: String) -> UInt64? {
        let path = unreachableDirectory.appending(appliance)
        guard let bytes = try? FileSystemCalls.readAll(path) else { return nil }
        return UInt64(String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Replaces `path` by rename, so a reader sees the old record or the new one. The temporary name ends in `~`,
    /// which no stream name does.
    private static func replace(_ path: FilePath, with bytes: [UInt8], durable: Bool) throws {
        let temporary = FilePath(path.string + "~")
        let descriptor = try FileSystemCalls.open(
            temporary, .writeOnly, options: [.create, .truncate, .closeOnExec], permissions: [.ownerReadWrite])
        do {
            try bytes.withUnsafeBytes { try FileSystemCalls.writeAll(descriptor, $0) }
            if durable { try FileSystemCalls.synchroniseData(descriptor) }
            try FileSystemCalls.close(descriptor)
        } catch {
            FileSystemCalls.release(descriptor)
            throw error
        }
        try FileSystemCalls.rename(temporary, to: path)
        if durable {
            var directory = path
            directory.removeLastComponent()
            try FileSystemCalls.synchroniseDirectory(directory)
        }
    }
}

/// Milliseconds since 1970, now.
func millisecondsSince1970() -> UInt64 {
    UInt64(max(0, Date().timeIntervalSince1970 * 1000))
}
