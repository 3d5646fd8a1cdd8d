import CryptoPrimitives
import Foundation
import TestSupport
import Testing

/// P-256 keys and signatures against the `openssl` command: what one side writes, the other reads and verifies.
@Suite struct P256OpenSSLTests {
    @Test func opensslKeyAndSignatureReadHere() throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-p256")
        defer { scratch.remove() }
        let keyFile = "\(scratch.path)/key.pem"
        try Command.run(
            "openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", keyFile])
        let key = try P256PrivateKey(pemRepresentation: SecretBytes(try Self.bytes(keyFile)))

        try Command.run("openssl", ["pkey", "-in", keyFile, "-pubout", "-out", "\(scratch.path)/public.pem"])
        try Command.run(
            "openssl", ["pkey", "-in", keyFile, "-pubout", "-outform", "DER", "-out", "\(scratch.path)/public.der"])
        let publicPEM = String(decoding: try Self.bytes("\(scratch.path)/public.pem"), as: UTF8.self)
        #expect(try P256PublicKey(pemRepresentation: publicPEM) == key.publicKey)
        #expect(key.publicKey.pemRepresentation == publicPEM, "the same text as openssl writes")
        #expect(key.publicKey.derRepresentation == (try Self.bytes("\(scratch.path)/public.der")))

        let message = Array("signed by openssl".utf8)
        try Data(message).write(to: URL(fileURLWithPath: "\(scratch.path)/message"))
        try Command.run(
            "openssl",
            ["dgst", "-sha256", "-sign", keyFile, "-out", "\(scratch.path)/signature.der", "\(scratch.path)/message"])
        let raw = try ECDSASignatureEncoding.raw(fromDER: try Self.bytes("\(scratch.path)/signature.der"))
        #expect(key.publicKey.isValidSignature(raw, for: message))
        #expect(!key.publicKey.isValidSignature(raw, for: message + [0]))
    }

    @Test func keyAndSignatureMadeHereReadByOpenSSL() throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-p256")
        defer { scratch.remove() }
        let key = try P256PrivateKey()
        let keyFile = "\(scratch.path)/key.pem"
        try Data(try key.pemRepresentation.bytes).write(to: URL(fileURLWithPath: keyFile))
        try Data(key.publicKey.pemRepresentation.utf8).write(to: URL(fileURLWithPath: "\(scratch.path)/public.pem"))
        // openssl derives the same public key from the private key file this module wrote.
        let derived = try Command.run("openssl", ["pkey", "-in", keyFile, "-pubout"])
        #expect(derived + "\n" == key.publicKey.pemRepresentation)
        // Byte for byte the file openssl writes for the same key.
        let rewritten = try Command.run("openssl", ["pkey", "-in", keyFile])
        #expect(rewritten + "\n" == String(decoding: try key.pemRepresentation.bytes, as: UTF8.self))

        let message = Array("signed by CryptoPrimitives".utf8)
        try Data(message).write(to: URL(fileURLWithPath: "\(scratch.path)/message"))
        let der = try ECDSASignatureEncoding.der(fromRaw: try key.signature(for: message))
        try Data(der).write(to: URL(fileURLWithPath: "\(scratch.path)/signature.der"))
        let verdict = try Command.run(
            "openssl",
            [
                "dgst", "-sha256", "-verify", "\(scratch.path)/public.pem", "-signature",
                "\(scratch.path)/signature.der",
                "\(scratch.path)/message",
            ])
        #expect(verdict == "Verified OK")
    }

    @Test func otherPrivateKeyFilesAreReadOrRefused() throws {
        let scratch = try ScratchDirectory(prefix: "saatkond-p256")
        defer { scratch.remove() }
        // SEC 1, as `openssl ecparam -genkey` writes it: read.
        let sec1 = "\(scratch.path)/sec1.pem"
        try Command.run("openssl", ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", sec1])
        #expect(String(decoding: try Self.bytes(sec1), as: UTF8.self).hasPrefix("-----BEGIN EC PRIVATE KEY-----"))
        let key = try P256PrivateKey(pemRepresentation: SecretBytes(try Self.bytes(sec1)))
        let derived = try Command.run("openssl", ["pkey", "-in", sec1, "-pubout"])
        #expect(derived + "\n" == key.publicKey.pemRepresentation)

        // Another curve, another algorithm, an encrypted key (refused without asking for a passphrase), a public key.
        let refused: [(String, [String])] = [
            ("p384", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"]),
            ("ed25519", ["genpkey", "-algorithm", "ed25519"]),
            (
                "encrypted",
                [
                    "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-aes-256-cbc", "-pass",
                    "pass:secret",
                ]
            ),
        ]
        for (name, arguments) in refused {
            let file = "\(scratch.path)/\(name).pem"
            try Command.run("openssl", arguments + ["-out", file])
            #expect(throws: CryptoError.self, "\(name)") {
                try P256PrivateKey(pemRepresentation: SecretBytes(try Self.bytes(file)))
            }
        }
        let publicOnly = SecretBytes(Array(key.publicKey.pemRepresentation.utf8))
        #expect(throws: CryptoError.self) { try P256PrivateKey(pemRepresentation: publicOnly) }
    }

    private static func bytes(_ path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }
}
