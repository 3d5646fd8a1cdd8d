import Authorization
import NIOCore
import NIOPosix
import ReplicationProtocol
import ReplicationTransport
import StreamStore

/// Lists the streams this client's certificate may read, with each one's durable length, head and last append.
///
/// A listing is checked as a restore checks data: entries come in strictly increasing name order (so none twice),
/// each within the prefix asked for, each name a valid stream name (the frame parser's part), and the appliance's
/// closing count must be the number received. It cannot check that the appliance left nothing out.
public struct StreamLister: Sendable {
    /// Where to list from.
    public var endpoint: ReplicationEndpoint
    private let group: any EventLoopGroup

    /// Creates a lister.
    public init(endpoint: ReplicationEndpoint, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.endpoint = endpoint
        self.group = group
    }

    /// The streams `prefix` covers by whole name components (every stream when empty) that this client may read,
    /// in name order, all held in memory: a listing of a million streams takes a few hundred MiB here, so a caller
    /// that may meet that many takes them a page at a time with ``list(prefix:eachPage:)`` instead.
    public func list(prefix: String) async throws -> [StreamSummary] {
        var all: [StreamSummary] = []
        try await list(prefix: prefix) { page in all += page }
        return all
    }

    /// Hands `eachPage` the listing a page (at most ``ProtocolLimits/maximumListingEntries`` streams) at a time, in
    /// name order, as each arrives, and returns how many streams were listed. The appliance sends the next page only
    /// once this client has read the last, so memory stays bounded by a page whatever the number of streams; a
    /// failure after some pages throws, and the pages already handed out are the start of the listing.
    @discardableResult
    public func list(
        prefix: String, eachPage: ([StreamSummary]) async throws -> Void
    ) async throws -> UInt64 {
        let (channel, diagnostics) = try await ClientConnection.open(endpoint, group: group)
        do {
            return try await channel.executeThenClose { inbound, outbound in
                try await outbound.write(.hello(Hello(intent: .list, stream: prefix)))
                var listed: UInt64 = 0
                var last: StreamName?
                for try await frame in inbound {
                    switch frame {
                    case .listing(let page):
                        for entry in page {
                            try Self.check(entry.name, after: last, prefix: prefix)
                            last = entry.name
                        }
                        listed += UInt64(page.count)
                        try await eachPage(page)
                    case .end(let count):
                        guard count == listed else {
                            throw ReplicationError.protocolViolation(
                                "the appliance ended the listing at \(count) streams after sending \(listed)")
                        }
                        return listed
                    case .error(let error):
                        throw ReplicationError.refused(error)
                    default:
                        throw ReplicationError.protocolViolation("expected a listing, got \(frame.kind)")
                    }
                }
                throw ReplicationError.connection("the appliance closed the connection after listing \(listed) streams")
            }
        } catch let error as ReplicationError where error.kind != .connection {
            throw error
        } catch {
            // A broken connection may have a TLS cause (a rejected certificate) that explains it better.
            throw ReplicationError.broken(error, endpoint: endpoint, diagnostics: diagnostics)
        }
    }

    /// Refuses an entry out of order, a repeated one, or one outside the prefix asked for.
    private static func check(_ name: StreamName, after last: StreamName?, prefix: String) throws(ReplicationError) {
        if let last, name.rawValue <= last.rawValue {
            throw .protocolViolation("the appliance listed \(name) after \(last): out of order or twice")
        }
        guard prefix.isEmpty || AuthorizationPolicy.covers(prefix, stream: name.rawValue) else {
            throw .protocolViolation("the appliance listed \(name), which the prefix \(prefix) does not cover")
        }
    }
}
