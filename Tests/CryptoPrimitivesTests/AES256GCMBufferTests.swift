import TestSupport
import Testing

@testable import CryptoPrimitives

/// The bulk paths, checked against the array API, which the known-answer tests pin down.
@Suite struct AES256GCMBufferTests {
    @Test func sealIntoSeparateBufferEqualsArraySeal() throws {
        let key = try CryptoRandom.secretBytes(count: AES256GCM.keyByteCount)
        let nonce = try CryptoRandom.bytes(count: AES256GCM.nonceByteCount)
        let segment = try CryptoRandom.bytes(count: 8 << 20)
        let additionalData = Array("segment 42".utf8)
        let expected = try AES256GCM.seal(key: key, nonce: nonce, plaintext: segment, additionalData: additionalData)

        var ciphertext = [UInt8](repeating: 0, count: segment.count)
        let tag = try segment.withUnsafeBytes { plaintext in
            try ciphertext.withUnsafeMutableBytes { output in
                try AES256GCM.seal(
                    key: key, nonce: nonce, plaintext: plaintext, into: output, additionalData: additionalData)
            }
        }
        #expect(ciphertext == expected.ciphertext)
        #expect(tag == expected.tag)

        var plaintext = [UInt8](repeating: 0, count: segment.count)
        try ciphertext.withUnsafeBytes { ciphertext in
            try plaintext.withUnsafeMutableBytes { output in
                try AES256GCM.open(
                    key: key, nonce: nonce, ciphertext: ciphertext, tag: tag, into: output,
                    additionalData: additionalData)
            }
        }
        #expect(plaintext == segment)
    }

    /// Buffers above 1 GiB are fed to OpenSSL in pieces; small pieces must give the same result as one piece.
    @Test(arguments: [1, 7, 16, 4095])
    func chunkedProcessingEqualsSingleCall(chunkByteCount: Int) throws {
        let key = try CryptoRandom.secretBytes(count: AES256GCM.keyByteCount)
        let nonce = try CryptoRandom.bytes(count: AES256GCM.nonceByteCount)
        let message = try CryptoRandom.bytes(count: 10_000)
        let additionalData = try CryptoRandom.bytes(count: 100)
        let expected = try AES256GCM.seal(key: key, nonce: nonce, plaintext: message, additionalData: additionalData)

        var buffer = message
        let tag = try buffer.withUnsafeMutableBytes { buffer in
            try AES256GCM.process(
                encrypting: true, key: key, nonce: nonce, input: UnsafeRawBufferPointer(buffer), output: buffer,
                additionalData: additionalData, tag: nil, chunkByteCount: chunkByteCount)
        }
        #expect(buffer == expected.ciphertext)
        #expect(tag == expected.tag)

        _ = try buffer.withUnsafeMutableBytes { buffer in
            try AES256GCM.process(
                encrypting: false, key: key, nonce: nonce, input: UnsafeRawBufferPointer(buffer), output: buffer,
                additionalData: additionalData, tag: tag, chunkByteCount: chunkByteCount)
        }
        #expect(buffer == message)
    }

    @Test func wrongSizesAreRejected() throws {
        let key = try CryptoRandom.secretBytes(count: AES256GCM.keyByteCount)
        let nonce = try CryptoRandom.bytes(count: AES256GCM.nonceByteCount)
        let sealed = try AES256GCM.seal(key: key, nonce: nonce, plaintext: [1, 2, 3], additionalData: [])

        #expect(throws: CryptoError.invalidArgument()) {
            try AES256GCM.seal(
                key: SecretBytes([UInt8](repeating: 1, count: 16)), nonce: nonce, plaintext: [1],
                additionalData: [])
        }
        #expect(throws: CryptoError.invalidArgument()) {
            try AES256GCM.seal(key: key, nonce: Array(nonce.prefix(8)), plaintext: [1], additionalData: [])
        }
        #expect(throws: CryptoError.invalidArgument()) {
            try AES256GCM.open(
                key: key, nonce: nonce, ciphertext: sealed.ciphertext,
                tag: Array(sealed.tag.prefix(12)), additionalData: [])
        }
        var output = [UInt8](repeating: 0, count: 2)
        #expect(throws: CryptoError.invalidArgument()) {
            try [UInt8](repeating: 0, count: 3).withUnsafeBytes { input in
                try output.withUnsafeMutableBytes { output in
                    try AES256GCM.seal(key: key, nonce: nonce, plaintext: input, into: output, additionalData: [])
                }
            }
        }
    }

    @Test func partiallyOverlappingBuffersAreRejected() throws {
        let key = try CryptoRandom.secretBytes(count: AES256GCM.keyByteCount)
        let nonce = try CryptoRandom.bytes(count: AES256GCM.nonceByteCount)
        var storage = [UInt8](repeating: 0, count: 64)
        #expect(throws: CryptoError.invalidArgument()) {
            try storage.withUnsafeMutableBytes { storage in
                let input = UnsafeRawBufferPointer(rebasing: storage[0..<32])
                let output = UnsafeMutableRawBufferPointer(rebasing: storage[16..<48])
                return try AES256GCM.seal(key: key, nonce: nonce, plaintext: input, into: output, additionalData: [])
            }
        }
    }

    @Test func randomRoundTripsOfManySizes() throws {
        let key = try CryptoRandom.secretBytes(count: AES256GCM.keyByteCount)
        for size in [0, 1, 15, 16, 17, 255, 4096, 65_537] {
            let nonce = try CryptoRandom.bytes(count: AES256GCM.nonceByteCount)
            let message = try CryptoRandom.bytes(count: size)
            let sealed = try AES256GCM.seal(key: key, nonce: nonce, plaintext: message, additionalData: [9])
            let opened = try AES256GCM.open(
                key: key, nonce: nonce, ciphertext: sealed.ciphertext, tag: sealed.tag, additionalData: [9])
            #expect(opened == message)
        }
    }
}
