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

    /// The most bytes of a source read at once: a service's own log of key events stays far smaller.
    public static let maximumSourceBytes = 64 << 20

    /// Copies into this log, in order, every record of the log at `path` after the last one copied from it under the
    /// name `source`, and returns how many it copied. A record being appended there (a last line without its
    /// newline) waits for the next call. Throws, copying nothing, when the source does not verify or no longer holds
    /// the record last copied from it (it was rewritten or replaced).
    @discardableResult
    public func importRecords(of path: FilePath, as source: String) throws(CustodyLogError) -> Int {
        let contents: [UInt8]
        do {
            guard try FileSystemCalls.size(at: path) <= UInt64(Self.maximumSourceBytes) else {
                throw CustodyLogError(
                    .lineTooLong, "\(path) holds more than \(Self.maximumSourceBytes) bytes; it is not copied")
            }
            contents = try FileSystemCalls.readAll(path)
        } catch let error as Errno {
            if error == .noSuchFileOrDirectory { return 0 }
            throw .fileSystem(error, "read", path)
        } catch let error as CustodyLogError {
            throw error
        } catch {
            throw CustodyLogError(.fileSystem, "cannot read \(path): \(error)")
        }
        let complete = contents.lastIndex(of: UInt8(ascii: "\n")).map { contents[...$0] } ?? []
        let records = try Self.verify(Array(complete))
        let position = state.withLock { $0.imported[source] }
        if let position {
            guard position.seq <= records.count, records[Int(position.seq) - 1].hash == position.hash else {
                throw CustodyLogError(
                    .brokenChain,
                    "the log of \(source) at \(path) no longer holds record \(position.seq) as it was copied here: "
                        + "it was rewritten or replaced; nothing more is copied from it")
            }
        }
        let start = Int(position?.seq ?? 0)
        for record in records[start...] {
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
        return records.count - start
    }
}
