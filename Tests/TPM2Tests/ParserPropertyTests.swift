import PropertyBased
import TPM2
import TestSupport
import Testing

/// The structures read from disk or the network — sealed objects, quotes, DER signatures, public keys —
/// against random, truncated and mutated input: each parse either succeeds with a value that encodes back to
/// the same bytes or ends in `malformedInput`; it never traps.
struct ParserPropertyTests {
    @Test func sealedObjectsRoundTripAndRefuseEveryTruncation() throws {
        let bytes = Self.sealedObjectBytes(unique: 32)
        let object = try SealedObject(serialized: bytes)
        #expect(object.serialized() == bytes)
        #expect(object.authPolicy == [UInt8](repeating: 0xAB, count: 32))
        for length in 0..<bytes.count {
            #expect(throws: TPM2Error.malformedInput) { try SealedObject(serialized: Array(bytes.prefix(length))) }
        }
        #expect(throws: TPM2Error.malformedInput) { try SealedObject(serialized: bytes + [0]) }
    }

    @Test func sealedObjectsSurviveRandomAndMutatedInput() async {
        await propertyCheck(count: 3000, input: Gen.uint64()) { seed in
            var random = SplitMix64(seed: seed)
            let valid = Self.sealedObjectBytes(unique: Int(random.next() % 2) * 32)
            for candidate in [Self.mutated(valid, &random), random.bytes(Int(random.next() % 200))] {
                do throws(TPM2Error) {
                    let object = try SealedObject(serialized: candidate)
                    #expect(object.serialized() == candidate)
                } catch {
                    #expect(error == .malformedInput, "\(error)")
                }
            }
        }
    }

    @Test func quotesParseAndRefuseEveryTruncation() throws {
        let bytes = Self.attestBytes(nonce: [1, 2, 3])
        let parsed = try QuoteAttestation.parse(bytes)
        #expect(parsed.qualifyingData == [1, 2, 3])
        #expect(parsed.pcrSelection == [try PCRSelection(bank: .sha256, indices: [0, 7, 16])])
        #expect(parsed.pcrDigest == [UInt8](repeating: 0xDD, count: 32))
        #expect(parsed.clock == 0x0102_0304_0506_0708)
        #expect(parsed.resetCount == 5)
        #expect(parsed.restartCount == 6)
        for length in 0..<bytes.count {
            #expect(throws: TPM2Error.malformedInput) { try QuoteAttestation.parse(Array(bytes.prefix(length))) }
        }
        #expect(throws: TPM2Error.malformedInput) { try QuoteAttestation.parse(bytes + [0]) }
    }

    @Test func quotesSurviveRandomAndMutatedInput() async {
        await propertyCheck(count: 5000, input: Gen.uint64()) { seed in
            var random = SplitMix64(seed: seed)
            let valid = Self.attestBytes(nonce: random.bytes(Int(random.next() % 65)))
            for candidate in [Self.mutated(valid, &random), random.bytes(Int(random.next() % 200))] {
                do throws(TPM2Error) {
                    let parsed = try QuoteAttestation.parse(candidate)
                    #expect(parsed.magic == QuoteAttestation.generatedMagic)
                    #expect(parsed.type == QuoteAttestation.quoteType)
                } catch {
                    #expect(error == .malformedInput, "\(error)")
                }
            }
        }
    }

    @Test func derSignaturesRoundTripAndRandomDERNeverTraps() async {
        await propertyCheck(count: 3000, input: Gen.uint64()) { seed in
            var random = SplitMix64(seed: seed)
            // Leading zero bytes and a high first bit exercise DER's padding rules.
            var raw = random.bytes(64)
            raw[0] = UInt8(random.next() % 2) * raw[0]
            raw[32] = [0, 0x7F, 0x80, 0x01][Int(random.next() % 4)]
            raw[31] |= 1
            raw[63] |= 1
            guard raw[0] < 0xFF, raw[32] < 0xFF, let signature = try? ECDSASignature(raw: raw) else { return }
            #expect(signature.raw == raw)
            #expect((try? ECDSASignature(der: signature.der)) == signature)
            for candidate in [Self.mutated(signature.der, &random), random.bytes(Int(random.next() % 80))] {
                do throws(TPM2Error) {
                    let parsed = try ECDSASignature(der: candidate)
                    #expect(parsed.der == candidate)
                } catch {
                    #expect(error == .malformedInput, "\(error)")
                }
            }
        }
    }

    @Test func derSignaturesRefuseNonDEREncodings() {
        let one: [UInt8] = [0x02, 0x01, 0x01]
        for bad: [UInt8] in [
            [0x30, 0x06] + one + one + [0],  // trailing byte
            [0x30, 0x07] + one + [0x02, 0x02, 0x00, 0x01],  // superfluous leading zero
            [0x30, 0x06] + one + [0x02, 0x01, 0x81],  // negative
            [0x30, 0x06] + one + [0x02, 0x01, 0x00],  // zero
            [0x31, 0x06] + one + one,  // not a SEQUENCE
            [0x30, 0x81, 0x06] + one + one,  // long-form length
        ] {
            #expect(throws: TPM2Error.malformedInput) { try ECDSASignature(der: bad) }
        }
        #expect(
            (try? ECDSASignature(der: [0x30, 0x06] + one + one))?.raw == [UInt8](repeating: 0, count: 31) + [1]
                + [UInt8](repeating: 0, count: 31) + [1])
    }

    @Test func pointsRoundTripThroughTheirEncodings() throws {
        var random = SplitMix64(seed: 7)
        let point = try ECCPoint(x: random.bytes(32), y: random.bytes(32))
        #expect(try ECCPoint(uncompressed: point.uncompressed) == point)
        #expect(try ECCPoint(subjectPublicKeyInfoDER: point.subjectPublicKeyInfoDER) == point)
        #expect(try ECCPoint(x: [1], y: [2]).x == [UInt8](repeating: 0, count: 31) + [1])
        #expect(throws: TPM2Error.malformedInput) { try ECCPoint(uncompressed: [0x02] + point.x) }
        #expect(throws: TPM2Error.malformedInput) { try ECCPoint(subjectPublicKeyInfoDER: point.uncompressed) }
        #expect(throws: TPM2Error.malformedInput) { try ECCPoint(x: [UInt8](repeating: 1, count: 33), y: [1]) }
    }

    /// One to three random changes: a byte replaced, inserted or removed, or the tail cut.
    static func mutated(_ bytes: [UInt8], _ random: inout SplitMix64) -> [UInt8] {
        var result = bytes
        for _ in 0...(random.next() % 3) {
            let index = result.isEmpty ? 0 : Int(random.next() % UInt64(result.count))
            let byte = UInt8(truncatingIfNeeded: random.next())
            switch random.next() % 4 {
            case 0 where !result.isEmpty: result[index] = byte
            case 1: result.insert(byte, at: index)
            case 2 where !result.isEmpty: result.remove(at: index)
            default: result = Array(result.prefix(index))
            }
        }
        return result
    }

    /// A well-formed serialized sealed object, built by hand: "SKSO", version 1, a KEYEDHASH TPM2B_PUBLIC and
    /// an opaque TPM2B_PRIVATE.
    static func sealedObjectBytes(unique: Int) -> [UInt8] {
        let area: [UInt8] =
            [0x00, 0x08, 0x00, 0x0B, 0x00, 0x00, 0x04, 0x12] + sized([UInt8](repeating: 0xAB, count: 32))
            + [0x00, 0x10] + sized([UInt8](repeating: 0xCD, count: unique))
        let publicArea = sized(area)
        let privateArea = sized([UInt8](repeating: 0xEF, count: 80))
        return Array("SKSO".utf8) + [1] + sized(publicArea) + sized(privateArea)
    }

    /// A well-formed quote TPMS_ATTEST over sha256 PCRs 0, 7 and 16.
    static func attestBytes(nonce: [UInt8]) -> [UInt8] {
        [0xFF, 0x54, 0x43, 0x47, 0x80, 0x18] + sized([0x00, 0x0B] + [UInt8](repeating: 0x11, count: 32))
            + sized(nonce) + [1, 2, 3, 4, 5, 6, 7, 8] + [0, 0, 0, 5] + [0, 0, 0, 6] + [1]
            + [0, 0, 0, 0, 0, 0, 0, 9] + [0, 0, 0, 1, 0x00, 0x0B, 3, 0x81, 0x00, 0x01]
            + sized([UInt8](repeating: 0xDD, count: 32))
    }

    static func sized(_ bytes: [UInt8]) -> [UInt8] {
        [UInt8(bytes.count >> 8), UInt8(bytes.count & 0xFF)] + bytes
    }
}
