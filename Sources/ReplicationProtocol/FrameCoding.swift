import HashChain
import NIOCore
import StreamStore

/// The wire type byte of each frame.
enum FrameType: UInt8 {
    case hello = 0x01
    case ready = 0x02
    case data = 0x03
    case sync = 0x04
    case acknowledgement = 0x05
    case error = 0x06
    case readRange = 0x07
    case end = 0x08
    case receiptRequest = 0x09
    case receipt = 0x0A
    case listing = 0x0B
}

extension ByteBuffer {
    /// Appends `frame` in its wire form.
    public mutating func writeFrame(_ frame: Frame) {
        let lengthIndex = writerIndex
        writeInteger(UInt32(0))
        let bodyStart = writerIndex
        switch frame {
        case .hello(let hello):
            writeInteger(FrameType.hello.rawValue)
            writeInteger(hello.version)
            writeInteger(hello.intent.rawValue)
            let name = Array(hello.stream.utf8.prefix(Int(UInt16.max)))
            writeInteger(UInt16(name.count))
            writeBytes(name)
        case .ready(let length, let head):
            writeInteger(FrameType.ready.rawValue)
            writeInteger(length)
            writeBytes(head.bytes)
        case .data(let offset, var bytes):
            writeInteger(FrameType.data.rawValue)
            writeInteger(offset)
            writeBuffer(&bytes)
        case .sync:
            writeInteger(FrameType.sync.rawValue)
        case .acknowledgement(let durableLength, let head):
            writeInteger(FrameType.acknowledgement.rawValue)
            writeInteger(durableLength)
            writeBytes(head.bytes)
        case .error(let error):
            writeInteger(FrameType.error.rawValue)
            writeInteger(error.code.rawValue)
            writeBytes(error.message.utf8.prefix(ProtocolLimits.maximumMessageBytes))
        case .readRange(let offset, let length):
            writeInteger(FrameType.readRange.rawValue)
            writeInteger(offset)
            writeInteger(length)
        case .end(let offset):
            writeInteger(FrameType.end.rawValue)
            writeInteger(offset)
        case .receiptRequest:
            writeInteger(FrameType.receiptRequest.rawValue)
        case .receipt(let receipt):
            writeInteger(FrameType.receipt.rawValue)
            writeLengthPrefixed(receipt.stream)
            writeInteger(receipt.durableLength)
            writeBytes(receipt.head.bytes)
            writeInteger(receipt.millisecondsSince1970)
            writeLengthPrefixed(receipt.appliance)
            writeLengthPrefixed(receipt.keyID)
            writeBytes(receipt.signature.prefix(Receipt.signatureByteCount))
        case .listing(let entries):
            writeInteger(FrameType.listing.rawValue)
            writeInteger(UInt16(entries.count))
            for entry in entries {
                writeLengthPrefixed(entry.name.rawValue)
                writeInteger(entry.isReadable ? UInt8(0) : ListingFlags.unreadable)
                writeInteger(entry.length)
                writeBytes(entry.head.bytes)
                writeInteger(entry.lastAppendMilliseconds)
            }
        }
        setInteger(UInt32(writerIndex - bodyStart), at: lengthIndex)
    }
}

/// The bits of a listing entry's flags byte; the others are zero.
enum ListingFlags {
    /// The appliance could not open the stream: its length and head are zero and mean nothing.
    static let unreadable: UInt8 = 0x01
}

/// Parses frames from a byte stream. A frame is only buffered once its declared length is known to be within
/// ``ProtocolLimits/maximumBodyLength``, so a hostile length cannot make the receiver allocate.
public struct FrameParser: Sendable {
    /// The largest body accepted; a larger declared length is refused as soon as it is read.
    public var maximumBodyLength: Int

    /// Creates a parser that accepts bodies of up to `maximumBodyLength` bytes.
    public init(maximumBodyLength: Int = ProtocolLimits.maximumBodyLength) {
        self.maximumBodyLength = maximumBodyLength
    }

    /// Takes one frame off the front of `buffer`, or returns nil and consumes nothing when more bytes are needed.
    public func parse(_ buffer: inout ByteBuffer) throws(FrameError) -> Frame? {
        guard let bodyLength = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        guard bodyLength >= 1 else { throw .malformed("a frame declares an empty body") }
        guard bodyLength <= maximumBodyLength else { throw .oversized(Int(bodyLength), limit: maximumBodyLength) }
        guard buffer.readableBytes >= 4 + Int(bodyLength) else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        var body = buffer.readSlice(length: Int(bodyLength))!
        let typeByte = body.readInteger(as: UInt8.self)!
        guard let type = FrameType(rawValue: typeByte) else { throw .unknownType(typeByte) }
        let frame = try Self.parseBody(type, &body)
        guard body.readableBytes == 0 else {
            throw .malformed("a \(type) frame has \(body.readableBytes) bytes more than its layout")
        }
        return frame
    }

    private static func parseBody(_ type: FrameType, _ body: inout ByteBuffer) throws(FrameError) -> Frame {
        switch type {
        case .hello:
            let version: UInt16 = try read(&body, type)
            let intentByte: UInt8 = try read(&body, type)
            guard let intent = Hello.Intent(rawValue: intentByte) else {
                throw .malformed("a hello frame has the unknown intent \(intentByte)")
            }
            let nameLength: UInt16 = try read(&body, type)
            guard let nameBytes = body.readBytes(length: Int(nameLength)) else { throw .truncated(type) }
            guard let name = String(validating: nameBytes, as: UTF8.self) else {
                throw .malformed("a hello frame's stream name is not UTF-8")
            }
            return .hello(Hello(version: version, intent: intent, stream: name))
        case .ready:
            let length: UInt64 = try read(&body, type)
            return .ready(length: length, head: try readHead(&body, type))
        case .data:
            let offset: UInt64 = try read(&body, type)
            guard body.readableBytes > 0 else { throw .malformed("a data frame carries no bytes") }
            return .data(offset: offset, bytes: body.readSlice(length: body.readableBytes)!)
        case .sync:
            return .sync
        case .acknowledgement:
            let length: UInt64 = try read(&body, type)
            return .acknowledgement(durableLength: length, head: try readHead(&body, type))
        case .error:
            let code: UInt16 = try read(&body, type)
            guard body.readableBytes <= ProtocolLimits.maximumMessageBytes else {
                throw .malformed("an error frame's message is longer than \(ProtocolLimits.maximumMessageBytes) bytes")
            }
            guard let message = String(validating: body.readBytes(length: body.readableBytes)!, as: UTF8.self) else {
                throw .malformed("an error frame's message is not UTF-8")
            }
            return .error(ErrorFrame(code: ProtocolErrorCode(rawValue: code), message: message))
        case .readRange:
            let offset: UInt64 = try read(&body, type)
            return .readRange(offset: offset, length: try read(&body, type))
        case .end:
            return .end(offset: try read(&body, type))
        case .receiptRequest:
            return .receiptRequest
        case .receipt:
            guard let stream = body.readLengthPrefixedString() else { throw .truncated(type) }
            let length: UInt64 = try read(&body, type)
            let head = try readHead(&body, type)
            let time: UInt64 = try read(&body, type)
            guard let appliance = body.readLengthPrefixedString(), let keyID = body.readLengthPrefixedString(),
                let signature = body.readBytes(length: Receipt.signatureByteCount)
            else {
                throw .truncated(type)
            }
            // Checked here, so that a receipt a client writes to a file always reads back as a receipt.
            guard Receipt.isValidKeyID(keyID) else {
                throw .malformed(
                    "a receipt frame's key is not 1 to \(Receipt.maximumKeyIDBytes) characters of a-z, 0-9, \":._-\"")
            }
            return .receipt(
                Receipt(
                    stream: stream, durableLength: length, head: head, millisecondsSince1970: time,
                    appliance: appliance, keyID: keyID, signature: signature))
        case .listing:
            return .listing(try parseListing(&body))
        }
    }

    /// A listing's entries, each name a valid stream name and each flag known, so that what a client shows or
    /// names in a later request is never something the appliance could not have stored.
    private static func parseListing(_ body: inout ByteBuffer) throws(FrameError) -> [StreamSummary] {
        let count: UInt16 = try read(&body, .listing)
        guard (1...ProtocolLimits.maximumListingEntries).contains(Int(count)) else {
            throw .malformed(
                "a listing frame has \(count) entries, not 1 to \(ProtocolLimits.maximumListingEntries)")
        }
        var entries: [StreamSummary] = []
        entries.reserveCapacity(Int(count))
        for _ in 0..<count {
            guard let nameText = body.readLengthPrefixedString() else { throw .truncated(.listing) }
            let name: StreamName
            do {
                name = try StreamName(nameText)
            } catch {
                throw .malformed("a listing frame names an invalid stream: \(error)")
            }
            let flags: UInt8 = try read(&body, .listing)
            guard flags & ~ListingFlags.unreadable == 0 else {
                throw .malformed("a listing frame's entry has the unknown flags 0x\(String(flags, radix: 16))")
            }
            let length: UInt64 = try read(&body, .listing)
            let head = try readHead(&body, .listing)
            let lastAppend: UInt64 = try read(&body, .listing)
            entries.append(
                StreamSummary(
                    name: name, length: length, head: head, lastAppendMilliseconds: lastAppend,
                    isReadable: flags & ListingFlags.unreadable == 0))
        }
        return entries
    }

    private static func readHead(_ body: inout ByteBuffer, _ type: FrameType) throws(FrameError) -> ChainHead {
        guard let bytes = body.readBytes(length: 32), let head = ChainHead(bytes) else { throw .truncated(type) }
        return head
    }

    private static func read<Integer: FixedWidthInteger>(
        _ body: inout ByteBuffer, _ type: FrameType
    ) throws(FrameError) -> Integer {
        guard let value = body.readInteger(as: Integer.self) else { throw .truncated(type) }
        return value
    }
}

/// Why bytes from a peer are not a frame.
public struct FrameError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What is wrong, in a sentence.
    public let description: String

    static func oversized(_ length: Int, limit: Int) -> Self {
        Self(description: "a frame declares \(length) bytes, more than the limit of \(limit)")
    }
    static func unknownType(_ type: UInt8) -> Self {
        Self(description: "a frame has the unknown type 0x\(String(type, radix: 16))")
    }
    static func truncated(_ type: FrameType) -> Self {
        Self(description: "a \(type) frame is shorter than its layout")
    }
    static func malformed(_ reason: String) -> Self { Self(description: reason) }
}

/// Decodes frames in a NIO pipeline.
public struct FrameDecoder: ByteToMessageDecoder, Sendable {
    /// Frames come out.
    public typealias InboundOut = Frame
    private let limit: NIOLoopBoundBox<Int>?

    /// Creates a decoder of frames up to ``ProtocolLimits/maximumBodyLength``, or up to what `limit` holds when
    /// each frame's length is read (the receiver raises it once data frames are allowed).
    public init(limit: NIOLoopBoundBox<Int>? = nil) {
        self.limit = limit
    }

    /// Emits every complete frame in `buffer`.
    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let parser = FrameParser(maximumBodyLength: limit?.value ?? ProtocolLimits.maximumBodyLength)
        guard let frame = try parser.parse(&buffer) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(frame))
        return .continue
    }

    /// Bytes left over at the end of the stream are a truncated frame; the handler sees an error for them.
    public mutating func decodeLast(
        context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool
    ) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        if buffer.readableBytes > 0 {
            throw FrameError.malformed("the connection ended inside a frame (\(buffer.readableBytes) bytes left)")
        }
        return .needMoreData
    }
}

/// Encodes frames in a NIO pipeline.
public struct FrameEncoder: MessageToByteEncoder, Sendable {
    /// Frames go in.
    public typealias OutboundIn = Frame

    /// Creates an encoder.
    public init() {}

    /// Writes `data` in its wire form.
    public func encode(data: Frame, out: inout ByteBuffer) throws {
        out.writeFrame(data)
    }
}
