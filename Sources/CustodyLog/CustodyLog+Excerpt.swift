import DurableFiles
import SystemPackage

extension CustodyLog {
    /// The head now, as reports carry it: how many records, the last one's hash, and how many copies take appends.
    public struct HeadSummary: Sendable, Hashable, Codable {
        public var records: UInt64
        public var head: String
        public var copies: Int
    }

    public var headSummary: HeadSummary {
        state.withLock { state in
            HeadSummary(
                records: state.head?.seq ?? 0, head: state.head?.hash ?? CustodyRecord.firstPrevious,
                copies: state.copies.count)
        }
    }

    /// The lines (without their newlines) of records `from`, `from + 1`, … — at most `count` of them and at most
    /// `maximumBytes` in all, whole lines only: an excerpt to check against a signed head with
    /// ``verify(excerpt:endingAt:)``. Reads the file as appended so far, a piece at a time.
    public func excerpt(from first: UInt64, count: Int, maximumBytes: Int) throws(CustodyLogError) -> [String] {
        let length = state.withLock { $0.length }
        var lines: [String] = []
        var bytes = 0
        var seq: UInt64 = 1
        var pending: [UInt8] = []
        var offset: Int64 = 0
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 1)
        defer { chunk.deallocate() }
        reading: while offset < length, lines.count < count {
            let want = Int(min(Int64(chunk.count), length - offset))
            let read: Int
            do {
                read = try FileSystemCalls.read(
                    descriptor, at: offset, into: UnsafeMutableRawBufferPointer(rebasing: chunk[..<want]))
            } catch {
                throw .fileSystem(error, "read", path)
            }
            guard read > 0 else { break }
            offset += Int64(read)
            for byte in chunk[..<read] {
                guard byte == UInt8(ascii: "\n") else {
                    if seq >= first { pending.append(byte) }
                    continue
                }
                if seq >= first {
                    guard bytes + pending.count + 1 <= maximumBytes, lines.count < count else { break reading }
                    bytes += pending.count + 1
                    lines.append(String(decoding: pending, as: UTF8.self))
                    pending.removeAll(keepingCapacity: true)
                }
                seq += 1
            }
        }
        return lines
    }
}
