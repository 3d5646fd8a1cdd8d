import CryptoPrimitives
import DurableFiles
import Foundation
import HashChain
import SystemPackage

/// The keys service's directory: what provisioning leaves there, and the markers that say what state it is in.
///
///     provisioned            written last by provisioning: its date, the appliance, the signing key's id
///     storage.pub            the storage public key (64 hexadecimal digits): no secret
///     signing.pem            the signing public key (PEM): no secret
///     escrow.bundle          the escrow bundle for home (shares encrypted to the officials)
///     storage.sealed         the storage private key, sealed by the TPM to home's authorised PCR policy
///     journal.sealed         the journal key, sealed by the TPM to this TPM alone
///     zeroized               written by zeroization: when and why; a zeroized appliance stays so
///     audit.log              every key event, hash-chained (docs/custody-log.md)
public struct KeysStateFiles: Sendable {
    /// The directory.
    public let directory: FilePath

    public init(directory: FilePath) {
        self.directory = directory
    }

    public var provisioned: FilePath { directory.appending("provisioned") }
    public var storagePublicKey: FilePath { directory.appending("storage.pub") }
    public var signingPublicKey: FilePath { directory.appending("signing.pem") }
    public var escrowBundle: FilePath { directory.appending("escrow.bundle") }
    public var storageSealed: FilePath { directory.appending("storage.sealed") }
    public var journalSealed: FilePath { directory.appending("journal.sealed") }
    public var zeroized: FilePath { directory.appending("zeroized") }
    public var auditLog: FilePath { directory.appending("audit.log") }

    /// Writes a file that holds no secret, readable by all.
    func writePublic(_ text: String, to path: FilePath) throws {
        try writePublic(Array(text.utf8), to: path)
    }

    func writePublic(_ bytes: [UInt8], to path: FilePath) throws {
        try bytes.withUnsafeBytes {
            try FileSystemCalls.writeAtomically($0, to: path, permissions: [.ownerReadWrite, .groupRead, .otherRead])
        }
    }

    /// Reads a small text file (at most 64 KiB).
    func readText(_ path: FilePath) throws -> String {
        var bytes = [UInt8](repeating: 0, count: 64 * 1024 + 1)
        let count = try bytes.withUnsafeMutableBytes { try FileSystemCalls.read(path, into: $0) }
        guard count <= 64 * 1024 else { throw KeysError("\(path) is longer than 64 KiB") }
        return String(decoding: bytes[..<count], as: UTF8.self)
    }

    /// Reads a small binary file (at most `limit` bytes).
    func readBytes(_ path: FilePath, limit: Int = 64 * 1024) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: limit + 1)
        let count = try bytes.withUnsafeMutableBytes { try FileSystemCalls.read(path, into: $0) }
        guard count <= limit else { throw KeysError("\(path) is longer than \(limit) bytes") }
        return Array(bytes[..<count])
    }

    /// Overwrites a file's bytes in place with random ones, flushes them, then removes it: a copy taken afterwards
    /// finds nothing. (Flash may keep old blocks; the sealed blobs are useless without the evicted TPM parent anyway.)
    func shred(_ path: FilePath) throws {
        guard FileSystemCalls.exists(path) else { return }
        let size = Int(try FileSystemCalls.size(at: path))
        let descriptor = try FileSystemCalls.open(path, .writeOnly, options: [.closeOnExec], permissions: nil)
        defer { FileSystemCalls.release(descriptor) }
        let noise = try CryptoRandom.bytes(count: max(size, 1))
        try noise.withUnsafeBytes {
            try FileSystemCalls.writeAll(descriptor, UnsafeRawBufferPointer(rebasing: $0[..<size]), at: 0)
        }
        try FileSystemCalls.synchronise(descriptor)
        try FileSystemCalls.remove(path)
        try FileSystemCalls.synchroniseDirectory(directory)
    }
}

/// A keys-service failure with its reason.
public struct KeysError: Error, CustomStringConvertible, Sendable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
