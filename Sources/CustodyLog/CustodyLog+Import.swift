import CryptoPrimitives
import DurableFiles
import SystemPackage

/// Records copied from another service's log (the keys service keeps its own on its state directory, which no other
/// service may write), so that this one log holds every event. Each copied record keeps its event and fields and
/// gains `origin` (the source's name), `origin-seq`, `origin-hash` and `origin-time`: its place in the source's own
/// chain, so that the copy can be checked against the source, and a rewritten source is noticed.
extension CustodyLog {
    /// The last record copied from one source: its seq and hash in the source's log.
    struct ImportedPosition: Hashable {
        let source: String
        let seq: UInt64
        let hash: String

        /// The position a record of this log marks, when it was copied from another.
        init?(of record: CustodyRecord) {
            guard let source = record.fields["origin"], let text = record.fields["origin-seq"],
                let seq = UInt64(text), seq >= 1, let hash = record.fields["origin-hash"]
            else { return nil }
            self.source = source
            self.seq = seq
            self.hash = hash
        }
    }

    /// Where in a source's file the copying stopped: the end of the last line copied, and that line's length and
    /// hash. Known after a first reading of the whole source in this process; from then on only what the source
    /// gained is read, so a source that grows for years costs each look only its new lines.
    struct ImportCursor {
        let seq: UInt64
        let offset: Int64
        let lineLength: Int
        let lineHash: String
    }

    /// The most bytes of a source read at once: a service's own log of key events stays far smaller.
    public static let maximumSourceBytes = 64 << 20

    /// Copies into this log, in order, every record of the log at `path` after the last one copied from it under the
    /// name `source`, and returns how many it copied. A record being appended there (a last line without its
    /// newline) waits for the next call. Throws, copying nothing, when the source does not verify or no longer holds
    /// the record last copied from it (it was rewritten or replaced).
    @discardableResult
    public func importRecords(of path: FilePath, as source: String) throws(CustodyLogError) -> Int {
        let descriptor: FileDescriptor
        do {
            descriptor = try FileSystemCalls.open(path, .readOnly, options: [.closeOnExec])
        } catch {
            if error == .noSuchFileOrDirectory { return 0 }
            throw .fileSystem(error, "read", path)
        }
        defer { FileSystemCalls.release(descriptor) }
        let (position, cursor) = state.withLock { ($0.imported[source], $0.importCursors[source]) }
        let rewritten = CustodyLogError(
            .brokenChain,
            "the log of \(source) at \(path) no longer holds record \(position?.seq ?? 0) as it was copied here: "
                + "it was rewritten or replaced; nothing more is copied from it")
        // Its new lines only, after checking that the last line copied is still where it was; else the whole file.
        var verifier: ChainVerifier
        let start: Int64
        let contents: ArraySlice<UInt8>
        let continuing = cursor != nil && cursor?.seq == position?.seq
        if continuing, let cursor {
            let tail = try Self.readSource(descriptor, path, from: cursor.offset - Int64(cursor.lineLength) - 1)
            guard tail.count > cursor.lineLength, tail[cursor.lineLength] == UInt8(ascii: "\n"),
                CustodyRecord.hex(SHA256.hash(Array(tail[..<cursor.lineLength]))) == cursor.lineHash
            else { throw rewritten }
            verifier = ChainVerifier(continuingAfter: cursor.seq, lineHash: cursor.lineHash)
            start = cursor.offset
            contents = tail[(cursor.lineLength + 1)...]
        } else {
            verifier = ChainVerifier(fromStart: true)
            start = 0
            contents = try Self.readSource(descriptor, path, from: 0)[...]
        }
        // A last line without its newline is being appended: it waits for the next look.
        var lines: [(record: CustodyRecord, end: Int64, line: ArraySlice<UInt8>)] = []
        var lineStart = contents.startIndex
        while let end = contents[lineStart...].firstIndex(of: UInt8(ascii: "\n")) {
            let line = contents[lineStart..<end]
            lines.append((try verifier.accept(line), start + Int64(end - contents.startIndex + 1), line))
            lineStart = end + 1
        }
        // Read from the start: the records already copied are skipped, and the last one must be the one copied.
        var copied = 0
        if !continuing, let position {
            guard position.seq <= lines.count, lines[Int(position.seq) - 1].record.hash == position.hash else {
                throw rewritten
            }
            copied = Int(position.seq)
        }
        for (record, _, _) in lines[copied...] {
            let origin = [
                "origin": source, "origin-seq": String(record.seq), "origin-hash": record.hash,
                "origin-time": record.time,
            ]
            var event = CustodyEvent(record.event, record.fields.merging(origin) { _, copied in copied })
            if let problem = CustodyRecord.problem(with: event) {
                // Still a record in its place: the chain of copies goes on, and the reason is on the log.
                event = CustodyEvent("audit.import-refused", origin.merging(["reason": problem]) { kept, _ in kept })
            }
            do {
                try append(event)
            } catch {
                throw error as? CustodyLogError ?? CustodyLogError(.appendsRefused, "\(error)")
            }
        }
        if let last = lines.last {
            let cursor = ImportCursor(
                seq: last.record.seq, offset: last.end, lineLength: last.line.count,
                lineHash: CustodyRecord.hex(SHA256.hash(Array(last.line))))
            state.withLock { $0.importCursors[source] = cursor }
        }
        return lines.count - copied
    }

    /// The bytes of a source from `offset` to its end, at most ``maximumSourceBytes`` of them.
    private static func readSource(
        _ descriptor: FileDescriptor, _ path: FilePath, from offset: Int64
    ) throws(CustodyLogError) -> [UInt8] {
        guard offset >= 0 else { return [] }
        let size: Int64
        do {
            size = Int64(try FileSystemCalls.size(of: descriptor))
        } catch {
            throw .fileSystem(error, "read", path)
        }
        guard size - offset <= Int64(maximumSourceBytes) else {
            throw CustodyLogError(
                .lineTooLong, "\(path) holds more than \(maximumSourceBytes) new bytes; they are not copied")
        }
        guard size > offset else { return [] }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Int(size - offset), alignment: 1)
        defer { buffer.deallocate() }
        var filled = 0
        while filled < buffer.count {
            let count: Int
            do {
                count = try FileSystemCalls.read(
                    descriptor, at: offset + Int64(filled),
                    into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
            } catch {
                throw .fileSystem(error, "read", path)
            }
            guard count > 0 else { break }
            filled += count
        }
        return Array(buffer[..<filled])
    }
}
