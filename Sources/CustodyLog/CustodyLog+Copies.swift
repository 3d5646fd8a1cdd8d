import DurableFiles
import Foundation
import SystemPackage

/// Copies of the log kept elsewhere, such as on each member disk of the array, so that the record survives the
/// loss of the disk the log itself is on. A copy is always the log's bytes or a prefix of them: attaching one catches
/// it up, and every append then goes to the log first and to each copy after it, so a crash leaves a copy at most
/// one line behind, never ahead.
extension CustodyLog {
    struct AttachedCopy {
        let descriptor: FileDescriptor
        var length: Int64
    }

    /// A copy that an append could not write, and why; it left the set of copies.
    public struct LostCopy: Sendable, Hashable {
        public let path: FilePath
        public let reason: String
    }

    /// What attaching a copy did.
    public enum CopyAttachment: Sendable, Hashable {
        /// The copy was the log or a prefix of it (a copy a crash left one line behind, a disk that missed appends
        /// while it was away); the lines it lacked were written to it.
        case caughtUp(bytes: Int64)
        /// The log was empty (a new system disk) and the copy held a verified chain: the log took it, so the
        /// history the members kept goes on.
        case adopted(records: UInt64)
        /// The copy was not a prefix of the log (records this log never had, a line changed, another appliance's
        /// log): it was renamed, never deleted, and a fresh copy of the log written in its place.
        case setAside(FilePath, reason: String)
    }

    /// The copies every append goes to now.
    public var copyPaths: [FilePath] {
        state.withLock { $0.copies.keys.sorted { $0.string < $1.string } }
    }

    /// The copies appends failed to write since the last call, which left the set.
    public func takeLostCopies() -> [LostCopy] {
        state.withLock { state in
            defer { state.lostCopies = [] }
            return state.lostCopies
        }
    }

    /// Attaches the copy at `path` (creating it, mode 0640, if absent): from now on every append goes to it too.
    /// Returns what attaching did, or nil when the copy is attached already. Throws when the copy cannot be read or
    /// written; the log itself is never harmed by a copy.
    @discardableResult
    public func attachCopy(at path: FilePath) throws(CustodyLogError) -> CopyAttachment? {
        let outcome = state.withLock { (state: inout State) -> Result<CopyAttachment?, CustodyLogError> in
            guard !state.closed else { return .failure(CustodyLogError(.appendsRefused, "\(self.path) was closed")) }
            guard state.copies[path] == nil else { return .success(nil) }
            do {
                return .success(try attach(path, state: &state))
            } catch {
                return .failure(error as? CustodyLogError ?? CustodyLogError(.fileSystem, "\(error)"))
            }
        }
        return try outcome.get()
    }

    /// Stops writing to the copy at `path` (its disk is leaving); the file is left as it is.
    public func detachCopy(at path: FilePath) {
        state.withLock { state in
            guard let copy = state.copies.removeValue(forKey: path) else { return }
            FileSystemCalls.release(copy.descriptor)
        }
    }

    private func attach(_ path: FilePath, state: inout State) throws(CustodyLogError) -> CopyAttachment {
        var copy = try Self.openOrCreate(path)
        let copyLength: Int64
        let agreement: Int64
        do {
            copyLength = Int64(try FileSystemCalls.size(of: copy))
            agreement = try Self.commonPrefix(descriptor, copy, upTo: min(copyLength, state.length))
        } catch {
            FileSystemCalls.release(copy)
            throw .fileSystem(error, "read the copy", path)
        }
        let attachment: CopyAttachment
        if agreement == copyLength {
            attachment = .caughtUp(bytes: state.length - copyLength)
        } else {
            if state.length == 0, let records = try? adopt(copy, path: path, state: &state) {
                state.copies[path] = AttachedCopy(descriptor: copy, length: state.length)
                return .adopted(records: records)
            }
            FileSystemCalls.release(copy)
            let reason =
                agreement < min(copyLength, state.length)
                ? "it differs from this appliance's log at byte \(agreement)"
                : state.length == 0
                    ? "it is not a verifiable custody log"
                    : "it holds \(copyLength - state.length) bytes this appliance's log never had"
            let aside = FilePath("\(path.string).set-aside-\(Self.timestamp(Date()))")
            do {
                try FileSystemCalls.rename(path, to: aside)
            } catch {
                throw .fileSystem(error, "set aside the copy", path)
            }
            copy = try Self.openOrCreate(path)
            attachment = .setAside(aside, reason: reason)
        }
        let start = agreement == copyLength ? copyLength : 0
        do {
            try copyBytes(of: descriptor, from: start, to: state.length, into: copy)
        } catch {
            FileSystemCalls.release(copy)
            throw .fileSystem(error, "write the copy", path)
        }
        state.copies[path] = AttachedCopy(descriptor: copy, length: state.length)
        return attachment
    }

    /// Takes the copy's chain as this (empty) log's: writes its bytes here and verifies them as an opening does
    /// (a torn last line is cut from both). Returns the number of records; on any break the log is emptied again.
    private func adopt(_ copy: FileDescriptor, path: FilePath, state: inout State) throws -> UInt64 {
        let length = Int64(try FileSystemCalls.size(of: copy))
        do {
            try copyBytes(of: copy, from: 0, to: length, into: descriptor)
            let (verified, _) = try Self.readAndRepair(descriptor, path: self.path)
            if verified.length < length {
                try FileSystemCalls.resize(copy, to: verified.length)
                try FileSystemCalls.synchronise(copy)
            }
            state.head = verified.head
            state.headLineHash = verified.headLineHash ?? CustodyRecord.firstPrevious
            state.length = verified.length
            state.imported = verified.imported
            state.history = verified.history
            return verified.head?.seq ?? 0
        } catch {
            try? FileSystemCalls.resize(descriptor, to: 0)
            try? FileSystemCalls.synchronise(descriptor)
            throw error
        }
    }

    /// How many bytes, from the start, the two files agree on, reading at most `limit`.
    private static func commonPrefix(
        _ first: FileDescriptor, _ second: FileDescriptor, upTo limit: Int64
    ) throws(Errno) -> Int64 {
        let size = 1 << 20
        let one = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 1)
        let other = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 1)
        defer {
            one.deallocate()
            other.deallocate()
        }
        var offset: Int64 = 0
        while offset < limit {
            let want = Int(min(Int64(size), limit - offset))
            let a = try FileSystemCalls.read(
                first, at: offset, into: UnsafeMutableRawBufferPointer(rebasing: one[..<want]))
            let b = try FileSystemCalls.read(
                second, at: offset, into: UnsafeMutableRawBufferPointer(rebasing: other[..<want]))
            let count = min(a, b)
            for index in 0..<count where one[index] != other[index] { return offset + Int64(index) }
            offset += Int64(count)
            if count < want { break }
        }
        return offset
    }

    /// Copies bytes `start..<end` of `source` to the same offsets of `target`, cuts `target` there and flushes it.
    private func copyBytes(
        of source: FileDescriptor, from start: Int64, to end: Int64, into target: FileDescriptor
    ) throws(Errno) {
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 1)
        defer { chunk.deallocate() }
        var offset = start
        while offset < end {
            let want = Int(min(Int64(chunk.count), end - offset))
            let count = try FileSystemCalls.read(
                source, at: offset, into: UnsafeMutableRawBufferPointer(rebasing: chunk[..<want]))
            guard count > 0 else { throw Errno.ioError }
            try FileSystemCalls.writeAll(target, UnsafeRawBufferPointer(rebasing: chunk[..<count]), at: offset)
            offset += Int64(count)
        }
        try FileSystemCalls.resize(target, to: end)
        try FileSystemCalls.synchronise(target)
    }
}
