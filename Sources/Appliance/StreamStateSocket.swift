import ErasureStore
import Foundation
import HashChain
import LocalControl
import Logging
import NIOPosix
import ServiceLifecycle
import StreamStore

/// The reader's local state socket: the durable length, head and idle time of the streams a caller names (the
/// health service, for a report home asked about those streams). At most ``maximumNames`` per request, each a
/// recovery scan of one stream (no segment is decrypted): bounded whatever the number of streams.
struct StreamStateSocket: Service {
    static let maximumNames = 256

    let path: String
    let readers: Set<UInt32>
    let store: ErasureCodedStore
    let logger: Logger

    func run() async throws {
        let store = self.store
        // One scan at a time, on a thread of its own: never in the way of restores, and at most the server's
        // connections waiting.
        let scans = NIOThreadPool(numberOfThreads: 1)
        scans.start()
        let server = LocalControlServer(
            path: path, mode: 0o666, group: nil, access: LocalAccess(rules: ["streams": readers]),
            group: MultiThreadedEventLoopGroup.singleton
        ) { request in
            guard case .array(let values)? = request.body["names"], values.count <= Self.maximumNames else {
                return LocalReply(["error": .string("\"names\" must be an array of at most \(Self.maximumNames) names")]
                )
            }
            let names = values.compactMap { $0.stringValue.flatMap { try? StreamName($0) } }
            guard names.count == values.count else {
                return LocalReply(["error": "a name in \"names\" is not a stream name"])
            }
            let summaries = try? await scans.runIfActive {
                names.map { (name: $0, summary: store.summary(of: $0)) }
            }
            let now = UInt64(Date().timeIntervalSince1970 * 1000)
            var streams: [String: JSONValue] = [:]
            for (name, summary) in summaries ?? [] {
                guard let summary else { continue }
                streams[name.rawValue] =
                    summary.isReadable
                    ? .object([
                        "length": .integer(Int64(clamping: summary.length)), "head": .string(summary.head.description),
                        "idle-seconds": .integer(
                            Int64(
                                clamping: now.subtractingReportingOverflow(summary.lastAppendMilliseconds).partialValue
                                    / 1000)),
                    ]) : .object(["unreadable": true])
            }
            return LocalReply(["streams": .object(streams)])
        }
        try await server.start()
        logger.info("stream state socket ready", metadata: ["socket": "\(path)"])
        try? await gracefulShutdown()
        try? await server.stop()
        try? await scans.shutdownGracefully()
    }
}
