import CryptoPrimitives
import TestSupport
import Testing

/// Known answers from FIPS 180-2, Appendix B (SHA-256 examples B.1, B.2 and B.3).
@Suite struct SHA256Tests {
    static let oneBlockDigest = "ba7816bf 8f01cfea 414140de 5dae2223 b00361a3 96177a9c b410ff61 f20015ad"
    static let twoBlockMessage = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
    static let twoBlockDigest = "248d6a61 d20638b8 e5c02693 0c3e6039 a33ce459 64ff2167 f6ecedd4 19db06c1"
    static let millionDigest = "cdc76e5c 9914fb92 81a1c7e2 84d73e67 f1809a48 a497200e 046d39cc c7112cd0"

    @Test func oneBlockMessage() {
        #expect(SHA256.hash(Array("abc".utf8)) == [UInt8](hex: Self.oneBlockDigest))
    }

    @Test func multiBlockMessage() {
        #expect(SHA256.hash(Array(Self.twoBlockMessage.utf8)) == [UInt8](hex: Self.twoBlockDigest))
    }

    @Test func oneMillionTimesA() {
        let message = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        #expect(SHA256.hash(message) == [UInt8](hex: Self.millionDigest))
        message.withUnsafeBytes { #expect(SHA256.hash($0) == [UInt8](hex: Self.millionDigest)) }

        // The same message fed in 1000 pieces of 1000 bytes.
        let hasher = SHA256Hasher()
        for start in stride(from: 0, to: message.count, by: 1000) {
            hasher.update(message[start..<start + 1000])
        }
        #expect(hasher.finalize() == [UInt8](hex: Self.millionDigest))
    }

    @Test func nonContiguousSequenceIsHashedLikeAnArray() {
        // A lazy map has no contiguous storage, so this takes the path that gathers the bytes first.
        let lazyBytes = Array("abc".utf8).lazy.map { $0 }
        #expect(SHA256.hash(lazyBytes) == [UInt8](hex: Self.oneBlockDigest))
    }

    @Test func incrementalHashEqualsOneShotOverRandomSplits() throws {
        let message = try CryptoRandom.bytes(count: 100_000)
        let expected = SHA256.hash(message)
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20 {
            let hasher = SHA256Hasher()
            var start = 0
            var useBuffer = false
            while start < message.count {
                let end = min(message.count, start + Int.random(in: 0...9_000, using: &generator))
                if useBuffer {
                    message[start..<end].withUnsafeBytes { hasher.update($0) }
                } else {
                    hasher.update(Array(message[start..<end]))
                }
                useBuffer.toggle()
                start = end
            }
            #expect(hasher.finalize() == expected)
        }
    }

    @Test func copySnapshotsTheRunningState() {
        let hasher = SHA256Hasher()
        hasher.update(Array("ab".utf8))
        let snapshot = hasher.copy()
        hasher.update(Array("c".utf8))
        snapshot.update(Array("cdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))

        // Each continues from "ab" on its own.
        #expect(hasher.finalize() == [UInt8](hex: Self.oneBlockDigest))
        #expect(snapshot.finalize() == [UInt8](hex: Self.twoBlockDigest))
    }

    @Test func finalizeStartsOver() {
        let hasher = SHA256Hasher()
        hasher.update(Array("something else".utf8))
        _ = hasher.finalize()
        hasher.update(Array("abc".utf8))
        #expect(hasher.finalize() == [UInt8](hex: Self.oneBlockDigest))
    }

    @Test func emptyMessage() {
        // NIST CAVP SHAVS, SHA256ShortMsg.rsp, "Len = 0".
        let empty = "e3b0c442 98fc1c14 9afbf4c8 996fb924 27ae41e4 649b934c a495991b 7852b855"
        #expect(SHA256.hash([UInt8]()) == [UInt8](hex: empty))
        #expect(SHA256Hasher().finalize() == [UInt8](hex: empty))
    }
}
