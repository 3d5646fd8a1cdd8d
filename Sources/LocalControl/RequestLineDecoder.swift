import NIOCore

/// What the decoder found on a connection: the request's line, or more bytes than a request may have.
enum RequestFrame {
    case line(ByteBuffer)
    case tooLong
}

/// Frames a connection's one request: the bytes up to the first newline, or up to the end of the input when the
/// client shuts down its writing side without one; more than `maximumLength` bytes without a newline is `tooLong`,
/// found as soon as the bytes arrive, not after buffering them all.
struct RequestLineDecoder: ByteToMessageDecoder {
    typealias InboundOut = RequestFrame

    let maximumLength: Int
    private var done = false

    init(maximumLength: Int) {
        self.maximumLength = maximumLength
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard !done else {
            // One request per connection: whatever follows it is dropped.
            buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
            return .needMoreData
        }
        let searched = min(buffer.readableBytes, maximumLength + 1)
        if let newline = buffer.readableBytesView.prefix(searched).firstIndex(of: UInt8(ascii: "\n")) {
            let length = newline - buffer.readableBytesView.startIndex
            let line = buffer.readSlice(length: length)!
            buffer.moveReaderIndex(forwardBy: 1)
            done = true
            context.fireChannelRead(Self.wrapInboundOut(.line(line)))
            return .continue
        }
        if buffer.readableBytes > maximumLength {
            done = true
            buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
            context.fireChannelRead(Self.wrapInboundOut(.tooLong))
        }
        return .needMoreData
    }

    mutating func decodeLast(
        context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool
    ) throws -> DecodingState {
        let state = try decode(context: context, buffer: &buffer)
        if !done, buffer.readableBytes > 0 {
            // The client shut down its side without a newline: what it sent is its request.
            done = true
            let line = buffer.readSlice(length: buffer.readableBytes)!
            context.fireChannelRead(Self.wrapInboundOut(.line(line)))
        }
        return state == .continue ? .continue : .needMoreData
    }
}
