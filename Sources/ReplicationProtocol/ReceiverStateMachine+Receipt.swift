/// Receipts are signed off the event loop (the key may be in a TPM behind the keys service), so the answer to a
/// receipt request comes as an event of its own, when the connection may have ended meanwhile.
extension ReceiverStateMachine {
    /// The receipt an action asked for is signed: it goes to the client, unless the connection has ended (closed
    /// by the client, refused, or shut down) since it was asked for, when there is no one to send it to.
    public mutating func receiptSigned(_ receipt: Receipt) -> ReceiverAction {
        if case .closed = state { return .none }
        return ReceiverAction(frames: [.receipt(receipt)])
    }

    /// The receipt an action asked for could not be signed (the signing key is unusable): the client is told, and
    /// the connection ends, as for any failure of the appliance's own.
    public mutating func receiptSigningFailed(_ reason: String) -> ReceiverAction {
        if case .closed = state { return .none }
        return fail(
            .storageFailure, "the appliance cannot sign a receipt now (\(reason)); what was acknowledged is durable")
    }
}
