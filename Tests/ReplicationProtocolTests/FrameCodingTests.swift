import HashChain
import NIOCore
import NIOTestUtils
import PropertyBased
import ReplicationProtocol
import StreamStore
import Testing

@Suite("Frame coding")
struct FrameCodingTests {
    static let examples: [Frame] = [
        .hello(Hello(intent: .append, stream: "ee.population.wal")),
        .hello(Hello(version: 7, intent: .read, stream: "")),
        .ready(length: 0, head: .empty),
        .ready(length: UInt64.max, head: ChainHead([UInt8](repeating: 0xAB, count: 32))!),
        .data(offset: 42, bytes: ByteBuffer(bytes: [1, 2, 3])),
        .sync,
        .acknowledgement(durableLength: 1 << 40, head: ChainHead([UInt8](1...32))!),
        .error(ErrorFrame(code: .wrongOffset, message: "data arrived at offset 3")),
        .error(ErrorFrame(code: ProtocolErrorCode(rawValue: 999), message: "")),
        .readRange(offset: 5, length: 10),
        .end(offset: 15),
        .receiptRequest,
        .receipt(
            Receipt(
                stream: "ee.a", durableLength: 3, head: .empty, millisecondsSince1970: 17, appliance: "dev",
                keyID: "p256:0011223344556677", signature: [UInt8](repeating: 9, count: 64))),
        .hello(Hello(intent: .list, stream: "ee.pop")),
        .listing([
            StreamSummary(
                name: try! StreamName("ee.pop.base"), length: 3, head: .empty, lastAppendMilliseconds: 1_700_000_000_000
            ),
            StreamSummary(
                name: try! StreamName("ee.pop.wal"), length: 0, head: .empty, lastAppendMilliseconds: 0,
                isReadable: false),
        ]),
        .listing(
            (0..<ProtocolLimits.maximumListingEntries).map {
                StreamSummary(
                    name: try! StreamName(String(repeating: "w", count: 190) + "\($0)"), length: UInt64.max,
                    head: ChainHead([UInt8](repeating: 0xCD, count: 32))!, lastAppendMilliseconds: UInt64($0))
            }),
    ]

    @Test("every frame survives encoding and parsing", arguments: examples)
    func roundTrip(frame: Frame) throws {
        var buffer = ByteBuffer()
        buffer.writeFrame(frame)
        let parsed = try FrameParser().parse(&buffer)
        #expect(parsed == frame)
        #expect(buffer.readableBytes == 0)
    }

    /// The head used in the vectors: bytes 0x00, 0x01, …, 0x1f.
    static let vectorHeadBytes: [UInt8] = Array(0...31)
    static let vectorHead = ChainHead(vectorHeadBytes)!

    /// The published test vectors of docs/replication-protocol.md, byte for byte.
    @Test("wire layout matches the specification's test vectors")
    func testVectors() throws {
        let vectors: [(Frame, [UInt8])] = [
            (
                .hello(Hello(intent: .append, stream: "ee.a")),
                [0, 0, 0, 10, 0x01, 0, 1, 1, 0, 4, 0x65, 0x65, 0x2e, 0x61]
            ),
            (
                .ready(length: 258, head: Self.vectorHead),
                [0, 0, 0, 41, 0x02, 0, 0, 0, 0, 0, 0, 1, 2] + Self.vectorHeadBytes
            ),
            (.data(offset: 1, bytes: ByteBuffer(bytes: [0xAB])), [0, 0, 0, 10, 0x03, 0, 0, 0, 0, 0, 0, 0, 1, 0xAB]),
            (.sync, [0, 0, 0, 1, 0x04]),
            (
                .acknowledgement(durableLength: 1, head: Self.vectorHead),
                [0, 0, 0, 41, 0x05, 0, 0, 0, 0, 0, 0, 0, 1] + Self.vectorHeadBytes
            ),
            (.error(ErrorFrame(code: .streamBusy, message: "x")), [0, 0, 0, 4, 0x06, 0, 6, 0x78]),
            (
                .readRange(offset: 2, length: 3),
                [0, 0, 0, 17, 0x07, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3]
            ),
            (.end(offset: 3), [0, 0, 0, 9, 0x08, 0, 0, 0, 0, 0, 0, 0, 3]),
            (.hello(Hello(intent: .list, stream: "ee")), [0, 0, 0, 8, 0x01, 0, 1, 3, 0, 2, 0x65, 0x65]),
            (
                .listing([
                    StreamSummary(
                        name: try StreamName("ee.a"), length: 3, head: Self.vectorHead, lastAppendMilliseconds: 5)
                ]),
                Self.listingFrame(count: 1, Self.listingEntry("ee.a"))
            ),
        ]
        for (frame, bytes) in vectors {
            var encoded = ByteBuffer()
            encoded.writeFrame(frame)
            #expect(Array(encoded.readableBytesView) == bytes, "encoding \(frame.kind)")
            var wire = ByteBuffer(bytes: bytes)
            #expect(try FrameParser().parse(&wire) == frame, "parsing \(frame.kind)")
        }
    }

    @Test("the decoder handles frames split and batched in any way")
    func decoderVerifier() throws {
        let pairs: [(ByteBuffer, [Frame])] = Self.examples.map { frame in
            var buffer = ByteBuffer()
            buffer.writeFrame(frame)
            return (buffer, [frame])
        }
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: pairs) { FrameDecoder() }
    }

    @Test("an oversized length is refused before its body arrives")
    func oversized() {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(ProtocolLimits.maximumBodyLength + 1))
        buffer.writeInteger(UInt8(0x03))  // a data frame
        #expect(throws: FrameError.self) { try FrameParser().parse(&buffer) }
    }

    @Test("incomplete frames consume nothing")
    func incomplete() throws {
        var whole = ByteBuffer()
        whole.writeFrame(.readRange(offset: 1, length: 2))
        for cut in 0..<whole.readableBytes {
            var partial = whole.getSlice(at: 0, length: cut)!
            #expect(try FrameParser().parse(&partial) == nil)
            #expect(partial.readableBytes == cut)
        }
    }

    @Test(
        "malformed frames are errors",
        arguments: [
            [0, 0, 0, 0] as [UInt8],  // empty body
            [0, 0, 0, 1, 0x7F],  // unknown type
            [0, 0, 0, 1, 0x02],  // ready without its length
            [0, 0, 0, 9, 0x02, 0, 0, 0, 0, 0, 0, 0, 1],  // ready without its head
            [0, 0, 0, 42, 0x02, 0, 0, 0, 0, 0, 0, 0, 1] + [UInt8](repeating: 0, count: 33),  // a trailing byte
            [0, 0, 0, 9, 0x03, 0, 0, 0, 0, 0, 0, 0, 0],  // data with no bytes
            [0, 0, 0, 7, 0x01, 0, 1, 4, 0, 1, 0x61],  // hello with an unknown intent
            [0, 0, 0, 7, 0x01, 0, 1, 1, 0, 2, 0x61],  // hello whose name is longer than the frame
            [0, 0, 0, 7, 0x01, 0, 1, 1, 0, 1, 0xFF],  // hello whose name is not UTF-8
        ]
    )
    func malformed(bytes: [UInt8]) {
        var buffer = ByteBuffer(bytes: bytes)
        #expect(throws: FrameError.self) { try FrameParser().parse(&buffer) }
    }

    /// A listing entry for `name` in wire form, with `flags`: length 3, head 00…1f, last append 5.
    static func listingEntry(_ name: String, flags: UInt8 = 0) -> [UInt8] {
        [0, UInt8(name.utf8.count)] + Array(name.utf8) + [flags] + [0, 0, 0, 0, 0, 0, 0, 3] + vectorHeadBytes
            + [0, 0, 0, 0, 0, 0, 0, 5]
    }

    /// A listing frame of `count` declared entries and the given entry bytes.
    static func listingFrame(count: UInt16, _ entries: [UInt8]) -> [UInt8] {
        let body: [UInt8] = [0x0B, UInt8(count >> 8), UInt8(count & 0xFF)] + entries
        let length = UInt32(body.count)
        return [UInt8(length >> 24), UInt8((length >> 16) & 0xFF), UInt8((length >> 8) & 0xFF), UInt8(length & 0xFF)]
            + body
    }

    @Test("a listing parses only in its exact layout, with valid names, known flags and 1 to 256 entries")
    func listingLayout() throws {
        var valid = ByteBuffer(bytes: Self.listingFrame(count: 1, Self.listingEntry("ee.a")))
        #expect(
            try FrameParser().parse(&valid)
                == .listing([
                    StreamSummary(
                        name: try StreamName("ee.a"), length: 3, head: Self.vectorHead, lastAppendMilliseconds: 5)
                ]))
        var unreadable = ByteBuffer(bytes: Self.listingFrame(count: 1, Self.listingEntry("ee.a", flags: 1)))
        guard case .listing(let entries)? = try FrameParser().parse(&unreadable) else {
            Issue.record("an unreadable entry did not parse")
            return
        }
        #expect(entries.map(\.isReadable) == [false])

        let entry = Self.listingEntry("ee.a")
        let refused: [(String, [UInt8])] = [
            ("no entries", Self.listingFrame(count: 0, [])),
            ("more entries declared than sent", Self.listingFrame(count: 2, entry)),
            ("fewer entries declared than sent", Self.listingFrame(count: 1, entry + entry)),
            ("an entry cut short", Self.listingFrame(count: 1, Array(entry.dropLast()))),
            ("more than 256 entries", Self.listingFrame(count: 257, (0..<257).flatMap { _ in entry })),
            ("a path for a name", Self.listingFrame(count: 1, Self.listingEntry("../etc"))),
            ("an empty name", Self.listingFrame(count: 1, Self.listingEntry(""))),
            ("a name that is not UTF-8", Self.listingFrame(count: 1, [0, 1, 0xFF] + entry.dropFirst(2 + 4))),
            ("an unknown flag", Self.listingFrame(count: 1, Self.listingEntry("ee.a", flags: 2))),
            ("no count", [0, 0, 0, 1, 0x0B]),
        ]
        for (reason, bytes) in refused {
            var buffer = ByteBuffer(bytes: bytes)
            #expect(throws: FrameError.self, "\(reason)") { try FrameParser().parse(&buffer) }
        }
    }

    /// A receipt frame's key is what a receipt file's `key:` line may hold, so that a client can write every receipt
    /// it accepts; and its signature is 64 bytes, nothing more or less.
    @Test("a receipt frame with a malformed key or signature is refused")
    func receiptFrames() throws {
        func frame(key: [UInt8], signature: Int) -> [UInt8] {
            var body: [UInt8] = [0x0A, 0, 4] + Array("ee.a".utf8) + [UInt8](repeating: 0, count: 8 + 32 + 8)
            body += [0, 3] + Array("dev".utf8) + [0, UInt8(key.count)] + key + [UInt8](repeating: 7, count: signature)
            return [0, 0, 0, UInt8(body.count)] + body
        }
        var valid = ByteBuffer(bytes: frame(key: Array("p256:0011223344556677".utf8), signature: 64))
        guard case .receipt(let receipt)? = try FrameParser().parse(&valid) else {
            Issue.record("a receipt frame did not parse")
            return
        }
        #expect(receipt.keyID == "p256:0011223344556677" && receipt.signature.count == 64)
        let refused: [(String, [UInt8])] = [
            ("an empty key", frame(key: [], signature: 64)),
            ("an upper-case key", frame(key: Array("P256:AB".utf8), signature: 64)),
            ("a key with a line feed", frame(key: Array("p256:ab\nsignature: 00".utf8), signature: 64)),
            ("a key of 65 bytes", frame(key: [UInt8](repeating: UInt8(ascii: "a"), count: 65), signature: 64)),
            ("a short signature", frame(key: Array("p256:ab".utf8), signature: 63)),
            ("a long signature", frame(key: Array("p256:ab".utf8), signature: 65)),
        ]
        for (reason, bytes) in refused {
            var buffer = ByteBuffer(bytes: bytes)
            #expect(throws: FrameError.self, "\(reason)") { try FrameParser().parse(&buffer) }
        }
    }

    /// A property test standing in for the fuzzer in CI: arbitrary bytes never crash the parser, and it either
    /// needs more bytes, throws a FrameError, or yields a frame that encodes back to exactly the bytes it used.
    @Test("arbitrary bytes parse to a frame, need more, or are refused")
    func arbitraryBytes() async {
        await propertyCheck(count: 2000, input: Gen.uint8().array(of: 0...64)) { bytes in
            // Bias the first length toward small values, or almost every input would just "need more".
            var input = bytes
            if input.count >= 4 { input[0] = 0; input[1] = 0; input[2] = 0 }
            var buffer = ByteBuffer(bytes: input)
            do {
                if let frame = try FrameParser().parse(&buffer) {
                    var encoded = ByteBuffer()
                    encoded.writeFrame(frame)
                    let used = input.count - buffer.readableBytes
                    #expect(Array(encoded.readableBytesView) == Array(input[..<used]))
                } else {
                    #expect(buffer.readableBytes == input.count)
                }
            } catch {
                // Refused with a FrameError: the typed throw guarantees the type; nothing else to check.
            }
        }
    }

    @Test("random data frames round-trip")
    func randomDataFrames() async throws {
        await propertyCheck(
            count: 300, input: Gen.uint64(), Gen.uint8().array(of: 1...2048)
        ) { offset, payload in
            var buffer = ByteBuffer()
            buffer.writeFrame(.data(offset: offset, bytes: ByteBuffer(bytes: payload)))
            let parsed = try FrameParser().parse(&buffer)
            #expect(parsed == .data(offset: offset, bytes: ByteBuffer(bytes: payload)))
        }
    }
}
