import NIOConcurrencyHelpers
import ReplicationProtocol

/// A server's ``StreamSlots``, shared by its connections' event loops.
final class SharedStreamSlots: Sendable {
    private let slots: NIOLockedValueBox<StreamSlots>

    init(limits: StreamSlots.Limits) {
        slots = NIOLockedValueBox(StreamSlots(limits: limits))
    }

    /// Streams open now.
    var taken: Int { slots.withLockedValue { $0.taken } }

    func take(for identity: String) -> StreamSlots.Refusal? {
        slots.withLockedValue { $0.take(for: identity) }
    }

    func give(for identity: String) {
        slots.withLockedValue { $0.give(for: identity) }
    }
}
