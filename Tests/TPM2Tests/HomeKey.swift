import Foundation
import TPM2
import TestSupport

/// Home's policy-signing key, made and used with the `openssl` command, so that what the TPM accepts is what
/// an independent ECDSA implementation produced; also verifies the TPM's signatures the same way.
struct HomeKey {
    /// The directory holding the key and the files exchanged with openssl.
    let directory: ScratchDirectory
    /// The key's public half.
    let publicKey: ECCPoint

    private var keyPath: String { "\(directory.path)/home.pem" }

    /// Generates a fresh P-256 key in its own scratch directory; call `remove()` when done.
    init() throws {
        directory = try ScratchDirectory(prefix: "saatkond-tpm-home")
        let keyPath = "\(directory.path)/home.pem"
        try Command.run(
            "openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", keyPath])
        let spkiPath = "\(directory.path)/home.pub.der"
        try Command.run("openssl", ["pkey", "-in", keyPath, "-pubout", "-outform", "DER", "-out", spkiPath])
        publicKey = try ECCPoint(subjectPublicKeyInfoDER: Self.read(spkiPath))
    }

    func remove() {
        directory.remove()
    }

    /// ECDSA over `digest` as given (no hashing): `openssl pkeyutl -sign` with raw digest input.
    func sign(digest: [UInt8]) throws -> ECDSASignature {
        let input = try write(digest, as: "digest.bin")
        let output = "\(directory.path)/signature.der"
        try Command.run("openssl", ["pkeyutl", "-sign", "-inkey", keyPath, "-in", input, "-out", output])
        return try ECDSASignature(der: Self.read(output))
    }

    /// Home's approval of `approvedPolicy` for the PCRs `pcrs`.
    func approve(_ approvedPolicy: [UInt8], pcrs: PCRSelection, policyRef: [UInt8]) throws -> AuthorizedPolicy {
        let digest = try PolicyDigest.approvalDigest(approvedPolicy: approvedPolicy, policyRef: policyRef)
        return try AuthorizedPolicy(
            pcrs: pcrs, approvedPolicy: approvedPolicy, policyRef: policyRef, signerPublicKey: publicKey,
            signature: sign(digest: digest)
        )
    }

    /// Whether `openssl dgst -sha256 -verify` accepts `signature` over `message` by `key`.
    func opensslVerifies(_ message: [UInt8], signature: ECDSASignature, key: ECCPoint) throws -> Bool {
        let pem =
            "-----BEGIN PUBLIC KEY-----\n"
            + Data(key.subjectPublicKeyInfoDER).base64EncodedString(options: [
                .lineLength64Characters, .endLineWithLineFeed,
            ])
            + "\n-----END PUBLIC KEY-----\n"
        let keyFile = try write(Array(pem.utf8), as: "verify.pem")
        let messageFile = try write(message, as: "message.bin")
        let signatureFile = try write(signature.der, as: "verify.der")
        do {
            let output = try Command.run(
                "openssl", ["dgst", "-sha256", "-verify", keyFile, "-signature", signatureFile, messageFile]
            )
            return output == "Verified OK"
        } catch {
            return false
        }
    }

    private func write(_ bytes: [UInt8], as name: String) throws -> String {
        let path = "\(directory.path)/\(name)"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    private static func read(_ path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }
}
