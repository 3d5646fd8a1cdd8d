import CryptoPrimitives
import HashChain
import PropertyBased
import TestSupport
import Testing

@Suite("Stream hash chain")
struct StreamHashChainTests {
    @Test("the head of nothing is 32 zero bytes; of a short stream, one SHA-256 over the zero head and the bytes")
    func vectors() {
        #expect(StreamHashChain().head.bytes == [UInt8](repeating: 0, count: 32))
        #expect(StreamHashChain().head == .empty)
        var chain = StreamHashChain()
        chain.append(Array("abc".utf8))
        #expect(chain.head.bytes == SHA256.hash([UInt8](repeating: 0, count: 32) + Array("abc".utf8)))
        #expect(chain.length == 3)
    }

    @Test("at a chunk boundary the chain continues from the boundary's head")
    func boundary() {
        let chunk = [UInt8](repeating: 0x61, count: StreamHashChain.chunkBytes)
        var chain = StreamHashChain()
        chain.append(chunk)
        let boundary = SHA256.hash([UInt8](repeating: 0, count: 32) + chunk)
        #expect(chain.head.bytes == boundary)
        #expect(chain.chunkBoundaryHead.bytes == boundary)
        chain.append([0x61])
        #expect(chain.head.bytes == SHA256.hash(boundary + [0x61]))

        var resumed = StreamHashChain(boundaryLength: UInt64(chunk.count), boundaryHead: ChainHead(boundary)!)
        resumed.append([0x61])
        #expect(resumed.head == chain.head)
        #expect(resumed.length == chain.length)
    }

    /// The incremental chain, fed in arbitrary pieces, agrees with the stateless reference at every length.
    @Test("appends of any sizes give the same head as the reference")
    func property() async {
        let sizes = Gen.int(in: 0...(3 * StreamHashChain.chunkBytes / 2)).array(of: 1...6)
        await propertyCheck(count: 10, input: sizes) { pieces in
            var generator = SplitMix64(seed: UInt64(pieces.reduce(0, +)))
            var all: [UInt8] = []
            var chain = StreamHashChain()
            for size in pieces {
                let piece = generator.bytes(size)
                all += piece
                chain.append(piece)
                #expect(chain.length == UInt64(all.count))
            }
            #expect(chain.head == StreamHashChain.head(of: all))
        }
    }
}
