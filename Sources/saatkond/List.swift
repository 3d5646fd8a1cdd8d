import ArgumentParser
import Foundation
import ReplicationClients
import ReplicationTransport
import StreamStore

/// `saatkond list`: the streams this certificate may read, with each one's durable length, head and last append.
struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the streams this certificate may read.",
        discussion: """
            One line per stream, in name order: name, durable length in bytes, hash-chain head (64 hexadecimal \
            digits), time of the last append (ISO-8601, UTC). A stream the appliance cannot open (too many members \
            missing or damaged) shows `unreadable` for its length and head. Nothing is printed when no stream is \
            visible.
            """)

    @OptionGroup var client: ClientOptions

    @Argument(
        help: """
            List only the streams this prefix covers, by whole name components (ee.pop covers ee.pop.wal, not \
            ee.population); every readable stream by default.
            """)
    var prefix: String = ""

    @Flag(
        help: """
            Print a JSON array of {"stream", "length", "head", "lastAppend", "readable"} objects instead (length and \
            head null where not readable); [] when no stream is visible.
            """)
    var json = false

    func run() async throws {
        let lister = StreamLister(endpoint: try client.endpoint(reading: true))
        let output = ListingOutput(json: json)
        do {
            // Printed a page at a time as it comes, so a listing of millions of streams is never all in memory.
            try await lister.list(prefix: prefix) { page in
                for summary in page { output.print(summary) }
            }
        } catch let error as ReplicationError {
            throw CommandFailure("saatkond list: \(error)")
        }
        output.finish()
    }
}

/// Prints summaries as lines of text or as the elements of one JSON array.
private final class ListingOutput {
    private let json: Bool
    private var printed = 0
    private let time: ISO8601DateFormatter = {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter
    }()

    init(json: Bool) {
        self.json = json
    }

    func print(_ summary: StreamSummary) {
        let lastAppend = time.string(
            from: Date(timeIntervalSince1970: Double(summary.lastAppendMilliseconds) / 1000))
        if json {
            let object: [String: Any] = [
                "stream": summary.name.rawValue,
                "length": summary.isReadable ? summary.length as Any : NSNull(),
                "head": summary.isReadable ? summary.head.description as Any : NSNull(),
                "lastAppend": lastAppend, "readable": summary.isReadable,
            ]
            // Stream names and hex digits need no escaping, but JSONSerialization is the one that knows.
            let element = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
            Swift.print(printed == 0 ? "[" : ",", String(decoding: element, as: UTF8.self), separator: "")
        } else if summary.isReadable {
            Swift.print(summary.name, summary.length, summary.head, lastAppend)
        } else {
            Swift.print(summary.name, "unreadable", "unreadable", lastAppend)
        }
        printed += 1
    }

    func finish() {
        if json { Swift.print(printed == 0 ? "[]" : "]") }
    }
}
