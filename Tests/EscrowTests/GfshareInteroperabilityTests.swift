import CryptoPrimitives
import Foundation
import TestSupport
import Testing

@testable import Escrow

/// Against an independent implementation of GF(256) Shamir: libgfshare's `gfsplit` and `gfcombine` (Debian's
/// libgfshare-bin, installed by scripts/setup), which use the field polynomial 0x11D. A share file of theirs is the
/// raw share bytes, named `<stem>.<x as three digits>`; gfsplit picks random distinct x values.
@Suite(.enabled(if: Command.locate("gfsplit") != nil && Command.locate("gfcombine") != nil))
struct GfshareInteroperabilityTests {
    static func shareFile(_ directory: String, _ x: UInt8) -> String {
        "\(directory)/share.\(String(format: "%03d", Int(x)))"
    }

    @Test(arguments: [(2, 3), (3, 5), (5, 5)])
    func sharesFromGfsplitCombineHere(threshold: Int, count: Int) throws {
        let scratch = try ScratchDirectory(prefix: "escrow-gfsplit")
        defer { scratch.remove() }
        let secret = try CryptoRandom.bytes(count: 64)
        try Data(secret).write(to: URL(fileURLWithPath: "\(scratch.path)/secret"))
        try Command.run(
            "gfsplit", ["-n", "\(threshold)", "-m", "\(count)", "\(scratch.path)/secret", "\(scratch.path)/share"])
        let shares = try FileManager.default.contentsOfDirectory(atPath: scratch.path)
            .filter { $0.hasPrefix("share.") }.sorted()
            .map { name in
                let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: "\(scratch.path)/\(name)")))
                return ShamirShare(x: UInt8(name.dropFirst("share.".count))!, value: SecretBytes(bytes))
            }
        #expect(shares.count == count)
        for subset in ShamirTests.subsets(of: shares, size: threshold) {
            #expect(try Shamir.combine(subset).bytes == secret, "x = \(subset.map(\.x))")
        }
        // One short of the threshold does not give the secret (it could, with probability 2^-512).
        #expect(try Shamir.combine(Array(shares.prefix(threshold - 1))).bytes != secret)
    }

    @Test(arguments: [(2, 3), (3, 5), (5, 5)])
    func sharesFromHereCombineWithGfcombine(threshold: Int, count: Int) throws {
        let scratch = try ScratchDirectory(prefix: "escrow-gfcombine")
        defer { scratch.remove() }
        let secret = try CryptoRandom.secretBytes(count: 64)
        let shares = try Shamir.split(secret: secret, threshold: threshold, count: count)
        for subset in ShamirTests.subsets(of: shares, size: threshold) {
            let directory = "\(scratch.path)/\(subset.map { String($0.x) }.joined(separator: "-"))"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
            for share in subset {
                try Data(share.value.bytes).write(to: URL(fileURLWithPath: Self.shareFile(directory, share.x)))
            }
            let output = "\(directory)/combined"
            try Command.run("gfcombine", ["-o", output] + subset.map { Self.shareFile(directory, $0.x) })
            #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: output))) == secret.bytes)
        }
    }
}
