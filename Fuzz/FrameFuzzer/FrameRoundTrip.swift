import NIOCore
import ReplicationProtocol

/// libFuzzer's entry point: one input is a byte stream as a peer could send it on one connection.
///
/// The pointer is optional because C may pass null with a size of 0; every input is accepted (returns 0).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    FrameRoundTrip.check(UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size))
    return 0
}

/// The property the fuzzer checks: the parser turns a byte stream into frames, and each frame's wire form is exactly
/// the bytes it was parsed from. A parser that accepted two spellings of one frame, dropped or invented a byte, or
/// lost its place in the stream breaks it; a violation stops the process so that libFuzzer records the input.
enum FrameRoundTrip {
    /// Takes every frame off the front of `input`, as a receiver does, until the parser needs more bytes or refuses.
    static func check(_ input: UnsafeRawBufferPointer) {
        var buffer = ByteBuffer(bytes: input)
        let parser = FrameParser()
        while true {
            // The bytes the next frame comes from; a ByteBuffer cannot read back below its reader index.
            let before = buffer
            let parsed: Frame?
            do {
                parsed = try parser.parse(&buffer)
            } catch {
                // A refusal ends the connection, so where the reader index stopped does not matter.
                return
            }
            guard let frame = parsed else {
                precondition(
                    buffer.readerIndex == before.readerIndex, "the parser asked for more bytes but consumed some")
                return
            }
            let count = buffer.readerIndex - before.readerIndex
            precondition(count > 0, "the parser returned a frame without consuming a byte")
            let consumed = before.getSlice(at: before.readerIndex, length: count)!
            checkWireForm(of: frame, parsedFrom: consumed, parser)
        }
    }

    private static func checkWireForm(of frame: Frame, parsedFrom consumed: ByteBuffer, _ parser: FrameParser) {
        var encoded = ByteBuffer()
        encoded.writeFrame(frame)
        precondition(
            encoded == consumed,
            "re-encoding \(frame) gives \(hex(encoded)), not the \(hex(consumed)) it was parsed from")
        var again = encoded
        let reparsed = try? parser.parse(&again)
        precondition(
            reparsed == frame && again.readableBytes == 0,
            "\(hex(encoded)) parses as \(frame), then as \(reparsed as Any)")
    }

    private static func hex(_ buffer: ByteBuffer) -> String {
        buffer.readableBytesView.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}
