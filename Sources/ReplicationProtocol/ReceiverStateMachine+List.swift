import Authorization
import StreamStore

/// The listing session: `hello(list, prefix)`, then pages of the streams the peer may read, each sent before the next
/// is asked for, then `end(count)`.
///
/// The appliance holds one page at a time (``ProtocolLimits/maximumListingEntries`` summaries) whatever the number
/// of streams, and asks for the next only while the client reads what it was sent, as a restore does.
extension ReceiverStateMachine {
    struct Listing {
        var prefix: String
        /// The prefixes of the peer's read grants, as the policy stood at the hello.
        var readable: [String]
        /// The last stream sent; the next page starts after it.
        var after: StreamName?
        var listed: UInt64 = 0
        var storageBusy = false
    }

    /// Whether a listing for `prefix` by a peer whose read grants cover `readable` includes `stream`: a read grant
    /// covers it, and so does the prefix, by whole name components (``AuthorizationPolicy/covers(_:stream:)``); the
    /// empty prefix covers every stream.
    public static func listingIncludes(_ stream: StreamName, prefix: String, readable: [String]) -> Bool {
        (prefix.isEmpty || AuthorizationPolicy.covers(prefix, stream: stream.rawValue))
            && readable.contains { AuthorizationPolicy.covers($0, stream: stream.rawValue) }
    }

    /// A hello asked to list the streams `prefix` covers. Listing needs a read grant: one on any prefix lets the peer
    /// learn the names, lengths and heads of the streams it could read anyway, and of no others.
    mutating func listRequested(prefix: String) -> ReceiverAction {
        let bytes = prefix.utf8
        guard bytes.count <= StreamName.maximumLength, bytes.allSatisfy(StreamName.isAllowed) else {
            return fail(
                .invalidStreamName,
                "the prefix \(prefix.debugDescription) to list is not a grant prefix: at most "
                    + "\(StreamName.maximumLength) bytes of A-Z, a-z, 0-9, '.', '-' and '_', or empty for every stream")
        }
        let readable = peer.map { policy.prefixes($0, .read) } ?? []
        guard !readable.isEmpty else {
            return fail(
                .notAuthorized,
                "the certificate \(peer?.commonName.map { "'\($0)'" } ?? "without a common name") may not read any "
                    + "stream, so it may not list; home grants reads in the appliance's authorization policy")
        }
        var listing = Listing(prefix: prefix, readable: readable)
        let action = nextPage(&listing)
        state = .listing(listing)
        return action
    }

    /// A page of the listing came from storage.
    public mutating func listPageCompleted(_ page: [StreamSummary]) -> ReceiverAction {
        guard case .listing(var listing) = state else {
            // A listing holds nothing open: once closed, there is nothing to release.
            if case .closed = state { return .none }
            fatalError("listPageCompleted in \(state): only a listing session asks for pages")
        }
        precondition(listing.storageBusy, "listPageCompleted without a page asked for")
        precondition(page.count <= ProtocolLimits.maximumListingEntries, "storage returned more than a page")
        listing.storageBusy = false
        var action = ReceiverAction.none
        if let last = page.last {
            action.frames.append(.listing(page))
            listing.listed += UInt64(page.count)
            listing.after = last.name
        }
        if page.count < ProtocolLimits.maximumListingEntries {
            state = .readComplete
            action.frames.append(.end(offset: listing.listed))
            return action
        }
        action.storage = nextPage(&listing).storage
        state = .listing(listing)
        return action
    }

    /// Asks for the next page, unless one is being read or the client does not read what it was sent.
    func nextPage(_ listing: inout Listing) -> ReceiverAction {
        guard writable, !listing.storageBusy else { return .none }
        listing.storageBusy = true
        return ReceiverAction(
            storage: .list(
                prefix: listing.prefix, readable: listing.readable, after: listing.after,
                limit: ProtocolLimits.maximumListingEntries))
    }
}
