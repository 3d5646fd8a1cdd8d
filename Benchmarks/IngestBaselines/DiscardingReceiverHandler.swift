import HashChain
import NIOCore
import ReplicationProtocol

/// The baseline receiver's end of one connection: just enough of the replication protocol for the real
/// `saatkond send` to drive it, and no storage.
///
/// It answers an append hello with an empty stream, and acknowledges every data frame as soon as it has read it,
/// with the hash-chain head at the frame's end: the sender checks each acknowledged head against its own chain, and
/// the real receiver's store hashes every byte too, so hashing here keeps the comparison fair. The bytes themselves
/// are discarded. What this measures is TLS, framing and the sender, without the store.
///
/// It stays on its channel's event loop, like every channel handler; the chain is never shared.
final class DiscardingReceiverHandler: ChannelInboundHandler {
    typealias InboundIn = Frame
    typealias OutboundOut = Frame

    private var chain = StreamHashChain()
    private var greeted = false
    private var unflushed = false
    private let report: @Sendable (String) -> Void

    /// Creates the handler of one connection; `report` receives one line about it when it closes.
    init(report: @escaping @Sendable (String) -> Void) {
        self.report = report
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .hello(let hello) where !greeted && hello.intent == .append:
            greeted = true
            context.write(wrapOutboundOut(.ready(length: 0, head: .empty)), promise: nil)
            unflushed = true
        case .data(let offset, let bytes) where greeted && offset == chain.length:
            bytes.withUnsafeReadableBytes { chain.append($0) }
            acknowledge(context: context)
        case .sync where greeted:
            acknowledge(context: context)
        case .error:
            // The sender gave up and said why; there is no one to answer.
            context.close(promise: nil)
        case let frame:
            let refusal = ErrorFrame(
                code: .unexpectedFrame,
                message: "the ingest baseline receiver takes one append stream from offset 0; a \(frame.kind) frame "
                    + "is not expected here")
            context.writeAndFlush(wrapOutboundOut(.error(refusal)), promise: nil)
            context.close(promise: nil)
        }
    }

    /// Acknowledgements of one batch of reads go out in one flush, as soon as the batch is read.
    func channelReadComplete(context: ChannelHandlerContext) {
        if unflushed {
            unflushed = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        report("connection closed after \(chain.length) bytes, head \(chain.head)")
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        report("connection failed: \(error)")
        context.close(promise: nil)
    }

    private func acknowledge(context: ChannelHandlerContext) {
        let head = chain.head
        context.write(wrapOutboundOut(.acknowledgement(durableLength: chain.length, head: head)), promise: nil)
        unflushed = true
    }
}
