import Foundation
import HashChain
import PropertyBased
import ReplicationProtocol
import Synchronization
import Testing

/// The receipt's text form faces files from outside (`saatkond verify` reads whatever it is given), so the parser
/// is held to two things: a receipt survives its text form exactly, and any other text is refused with the line and
/// what is wrong, never a crash and never a different receipt.
@Suite("Receipt text form")
struct ReceiptTextTests {
    static let receipt = Receipt(
        stream: "ee.population.wal", durableLength: 1_048_577, head: ChainHead([UInt8](1...32))!,
        millisecondsSince1970: 1_790_000_000_123, appliance: "saatkond-dev", keyID: "p256:0123456789abcdef",
        signature: (0..<64).map { UInt8($0 * 3) })

    @Test("the text form is the documented layout, and parses back to the same receipt")
    func layoutAndRoundTrip() throws {
        let text = Self.receipt.text
        #expect(
            text == """
                saatkond-receipt-v2
                stream: ee.population.wal
                length: 1048577
                head: 0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20
                time-ms: 1790000000123
                appliance: saatkond-dev
                key: p256:0123456789abcdef
                signature: \((0..<64).map { String(format: "%02x", $0 * 3) }.joined())

                """)
        #expect(try Receipt(text: Array(text.utf8)) == Self.receipt)
        // A missing final line feed is tolerated (an editor, a copy and paste); nothing else about the layout is.
        #expect(try Receipt(text: Array(text.utf8.dropLast())) == Self.receipt)
    }

    /// A malformed text with the words its refusal must contain.
    struct Malformed: CustomTestStringConvertible, Sendable {
        let name: String
        let text: String
        let expected: String
        var testDescription: String { name }
    }

    static let malformed: [Malformed] = {
        let lines = receipt.text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        func with(_ index: Int, _ line: String) -> String {
            var copy = lines
            copy[index] = line
            return copy.joined(separator: "\n")
        }
        let cases: [(String, String, String)] = [
            ("empty", "", "it is empty"),
            ("another format", "saatkond-receipt-v3\n", "line 1: expected saatkond-receipt-v2"),
            ("a version 1 receipt", "saatkond-receipt-v1\n", "line 1: a version 1 receipt, signed with Ed25519, is no"),
            ("a field missing", lines[0..<4].joined(separator: "\n") + "\n", "line 5: the receipt ends here"),
            ("fields in another order", with(3, lines[4]), "line 4: expected the field \"head: \""),
            ("a length with a leading zero", with(2, "length: 01048577"), "line 3: the length must be a decimal"),
            ("a length beyond u64", with(2, "length: 18446744073709551616"), "line 3: the length must be"),
            ("a negative length", with(2, "length: -1"), "line 3: the length must be"),
            ("an empty length", with(2, "length: "), "line 3: the field \"length\" is empty"),
            (
                "an upper-case head", with(3, lines[3].uppercased().replacingOccurrences(of: "HEAD", with: "head")),
                "line 4: the head must be 64 lower-case hexadecimal digits"
            ),
            ("a short head", with(3, String(lines[3].dropLast(2))), "line 4: the head must be 64"),
            ("an invalid stream name", with(1, "stream: ../etc/passwd"), "line 2: the stream name"),
            ("a time with a plus sign", with(4, "time-ms: +1"), "line 5: the time must be"),
            ("a control character in the appliance", with(5, "appliance: dev\u{1B}[2J"), "U+1B"),
            ("a bidirectional override in the appliance", with(5, "appliance: dev\u{202E}"), "U+202E"),
            ("an upper-case key", with(6, "key: P256:0123456789ABCDEF"), "line 7: the key must be 1 to 64 characters"),
            ("a key with a space", with(6, "key: p256: 0123"), "line 7: the key must be"),
            ("a key too long", with(6, "key: " + String(repeating: "a", count: 65)), "line 7: the key must be"),
            ("a missing key", with(6, lines[7]), "line 7: expected the field \"key: \""),
            ("a short signature", with(7, String(lines[7].dropLast())), "line 8: the signature must be 128"),
            ("text after the signature", receipt.text + "\n", "line 9: unexpected text after the signature"),
            ("CRLF line ends", receipt.text.replacingOccurrences(of: "\n", with: "\r\n"), "line 1: expected"),
            ("CR before LF in a field", with(2, "length: 1048577\r"), "line 3: the line ends with a carriage return"),
            ("too long", receipt.text + String(repeating: "x", count: 5000), "more than any receipt"),
        ]
        return cases.map { Malformed(name: $0.0, text: $0.1, expected: $0.2) }
    }()

    @Test("malformed texts are refused with the line and what is wrong", arguments: malformed)
    func refusals(example: Malformed) {
        do {
            let parsed = try Receipt(text: Array(example.text.utf8))
            Issue.record("\(example.name): parsed as \(parsed)")
        } catch {
            #expect(error.description.contains(example.expected), "\(example.name): \(error)")
        }
    }

    @Test("bytes that are not UTF-8 are refused, and the refusal shows them replaced")
    func notUTF8() {
        var bytes = Array(Self.receipt.text.utf8)
        bytes[0] = 0xFF
        #expect(throws: ReceiptTextError.self) { try Receipt(text: bytes) }
        do {
            _ = try Receipt(text: bytes)
        } catch {
            #expect(error.description.hasSuffix("found \"\u{FFFD}aatkond-receipt-v2\""), "\(error)")
        }
        var appliance = Array(Self.receipt.text.utf8)
        let start = appliance.indices.first { appliance[$0...].starts(with: Array("appliance: ".utf8)) }!
        appliance[start + 11] = 0xC3  // A lead byte with no continuation.
        do {
            _ = try Receipt(text: appliance)
            Issue.record("an appliance name that is not UTF-8 was accepted")
        } catch {
            #expect(error.line == 6)
            #expect(error.description == "line 6: the field \"appliance\" is not UTF-8 text")
        }
    }

    /// Random receipts, mutated at random as a damaged or forged file would be: a flipped bit, a byte replaced by
    /// one the format cares about, a byte inserted or deleted, a truncation, two lines swapped or one repeated.
    /// Whatever comes out must either be refused with a ``ReceiptTextError``, or be a receipt whose text form is
    /// exactly the mutated text (so a mutation that the parser accepts changed a field, visibly, and the signature
    /// will tell) — never a crash, and never two texts for one receipt.
    @Test("a mutated receipt is refused, or is exactly the receipt its text says")
    func mutations() async {
        let streams = ["ee.population.wal", "a", "ee.land-registry.base_2026", String(repeating: "z", count: 200)]
        let appliances = ["saatkond-dev", "ee-embassy-lu-1", "Saatkond Luxembourg Ü", "x"]
        let keys = ["p256:0123456789abcdef", "p256:ffffffffffffffff", "tpm.ek-2_a", "k"]
        let mutation = zip(Gen.uint8(in: 0...6), Gen.uint16(), Gen.uint8())
        let outcomes = Mutex((accepted: 0, refused: 0))
        await propertyCheck(
            count: 5000,
            input: Gen.element(of: streams), Gen.uint64(), Gen.uint8().array(of: 32), Gen.uint64(),
            Gen.element(of: appliances), Gen.element(of: keys), Gen.uint8().array(of: 64), mutation.array(of: 1...4)
        ) { stream, length, head, time, appliance, key, signature, mutations throws in
            let original = Receipt(
                stream: stream!, durableLength: length, head: ChainHead(head)!, millisecondsSince1970: time,
                appliance: appliance!, keyID: key!, signature: signature)
            #expect(try Receipt(text: Array(original.text.utf8)) == original)
            var bytes = Array(original.text.utf8)
            for (kind, position, byte) in mutations {
                Self.mutate(&bytes, kind: kind, position: Int(position), byte: byte)
            }
            do {
                let parsed = try Receipt(text: bytes)
                let text = Array(parsed.text.utf8)
                #expect(text == bytes || text == bytes + [UInt8(ascii: "\n")], "\(bytes) parsed as \(parsed)")
                outcomes.withLock { $0.accepted += 1 }
            } catch {
                outcomes.withLock { $0.refused += 1 }
                // Refused, with a ReceiptTextError that says something.
                #expect(!((error as? ReceiptTextError)?.description.isEmpty ?? true), "\(error)")
            }
        }
        // Both outcomes occur: the mutations reach past the first line, and some leave a well-formed receipt (a
        // changed digit) that only the signature can tell from the original.
        let (accepted, refused) = outcomes.withLock { $0 }
        #expect(accepted >= 100 && refused >= 1000, "\(accepted) accepted, \(refused) refused")
    }

    /// The bytes a mutation puts in: the ones the format gives a meaning to, and some it must refuse.
    static let interesting: [UInt8] = Array("0 19af:\n\r-.A".utf8) + [0x00, 0x1B, 0x7F, 0xC3, 0xFF]

    static func mutate(_ bytes: inout [UInt8], kind: UInt8, position: Int, byte: UInt8) {
        guard !bytes.isEmpty else {
            bytes = [byte]
            return
        }
        let index = position % bytes.count
        switch kind {
        case 0: bytes[index] ^= 1 << (byte % 8)
        case 1: bytes[index] = interesting[Int(byte) % interesting.count]
        case 2: bytes.remove(at: index)
        case 3: bytes.insert(interesting[Int(byte) % interesting.count], at: index)
        case 4: bytes.removeLast(bytes.count - index)
        default:
            var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
            let first = index % lines.count
            let second = Int(byte) % lines.count
            if kind == 5 { lines.swapAt(first, second) } else { lines.insert(lines[first], at: second) }
            bytes = Array(lines.joined(separator: [UInt8(ascii: "\n")]))
        }
    }
}
