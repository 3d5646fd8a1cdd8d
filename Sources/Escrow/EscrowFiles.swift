import CryptoPrimitives
import DurableFiles
import SystemPackage

/// The escrow files on disk: read with a bound on their size, secrets read straight into locked memory, and new
/// files created exclusively, so that nothing already there is ever overwritten.
public enum EscrowFiles {
    /// Reads and parses a bundle file.
    ///
    /// - Throws: `EscrowError.file` if it cannot be read, `EscrowError.malformedBundle` if it is not a bundle.
    public static func readBundle(_ path: FilePath) throws -> EscrowBundle {
        let size: UInt64
        do {
            size = try FileSystemCalls.size(at: path)
        } catch {
            throw EscrowError.file("cannot read the bundle \(path): \(error)")
        }
        guard size <= UInt64(EscrowBundle.maximumFileByteCount) else {
            throw EscrowError.malformedBundle("\(path) is \(size) bytes, more than any bundle")
        }
        do {
            return try EscrowBundle(parsing: try FileSystemCalls.readAll(path))
        } catch let error as Errno {
            throw EscrowError.file("cannot read the bundle \(path): \(error)")
        }
    }

    /// Reads and parses a share file, straight into locked memory.
    public static func readShare(_ path: FilePath) throws -> EscrowShare {
        try withSecretFile(path, maximumByteCount: EscrowShare.maximumFileByteCount, what: "share") {
            try EscrowShare(parsing: $0)
        }
    }

    /// Reads an X25519 private key: 64 lower-case hexadecimal digits and an optional newline, as
    /// `saatkond keys official-key` writes it.
    public static func readPrivateKey(_ path: FilePath) throws -> X25519PrivateKey {
        let malformed = EscrowError.file("\(path) is not a private key (64 lower-case hexadecimal digits)")
        let raw = try withSecretFile(path, maximumByteCount: 2 * EscrowBundle.keyByteCount + 1, what: "key") {
            text in
            var digits = UnsafeRawBufferPointer(rebasing: text[...])
            if digits.last == UInt8(ascii: "\n") { digits = UnsafeRawBufferPointer(rebasing: digits.dropLast()) }
            guard digits.count == 2 * EscrowBundle.keyByteCount else { throw malformed }
            return try SecretBytes(count: EscrowBundle.keyByteCount) { key in
                guard Hex.decodeSecret(digits, into: key) else { throw malformed }
            }
        }
        return try X25519PrivateKey(rawRepresentation: raw)
    }

    /// Writes a key as 64 lower-case hexadecimal digits and a newline to a new file, 0600.
    public static func writeKey(_ key: SecretBytes, to path: FilePath) throws {
        let text = SecretBytes(count: 2 * key.count + 1) { text in
            key.withUnsafeBytes { Hex.encodeSecret($0, into: UnsafeMutableRawBufferPointer(rebasing: text.dropLast())) }
            text[text.count - 1] = UInt8(ascii: "\n")
        }
        try text.withUnsafeBytes { try writeNewFile($0, to: path, permissions: [.ownerReadWrite]) }
    }

    /// Creates `path`, which must not exist, with `bytes`, and flushes it and its directory.
    ///
    /// - Throws: `EscrowError.file`, saying so, if `path` exists: a key or share is never overwritten.
    public static func writeNewFile(
        _ bytes: UnsafeRawBufferPointer, to path: FilePath, permissions: FilePermissions
    ) throws {
        let descriptor: FileDescriptor
        do {
            descriptor = try FileSystemCalls.open(
                path, .writeOnly, options: [.create, .exclusiveCreate, .closeOnExec], permissions: permissions)
        } catch {
            if error == .fileExists { throw EscrowError.file("\(path) exists already; nothing is overwritten") }
            throw EscrowError.file("cannot create \(path): \(error)")
        }
        do {
            try FileSystemCalls.writeAll(descriptor, bytes)
            try FileSystemCalls.synchronise(descriptor)
        } catch {
            FileSystemCalls.release(descriptor)
            // A file cut short would be refused as existing by the next try; removing it lets that try succeed.
            try? FileSystemCalls.remove(path)
            throw EscrowError.file("cannot write \(path): \(error)")
        }
        do {
            try FileSystemCalls.close(descriptor)
            var directory = path
            directory.removeLastComponent()
            try FileSystemCalls.synchroniseDirectory(directory.isEmpty ? "." : directory)
        } catch {
            throw EscrowError.file("cannot write \(path): \(error)")
        }
    }

    private static func withSecretFile<R>(
        _ path: FilePath, maximumByteCount: Int, what: String, _ body: (UnsafeRawBufferPointer) throws -> R
    ) throws -> R {
        var count = 0
        let contents: SecretBytes
        do {
            contents = try SecretBytes(count: maximumByteCount + 1) { count = try FileSystemCalls.read(path, into: $0) }
        } catch {
            throw EscrowError.file("cannot read the \(what) \(path): \(error)")
        }
        guard count <= maximumByteCount else {
            throw EscrowError.file("\(path) is longer than any \(what) file")
        }
        return try contents.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
    }
}

extension EscrowFiles {
    /// Makes an official's X25519 key pair: the private key to `path` (0600) and the public key to `path.pub`,
    /// each as 64 hexadecimal digits. Neither file may exist.
    ///
    /// - Returns: the public key, for the provisioning record.
    public static func makeOfficialKey(at path: FilePath) throws -> X25519PublicKey {
        let publicPath = FilePath(path.string + ".pub")
        for existing in [path, publicPath] where FileSystemCalls.exists(existing) {
            throw EscrowError.file("\(existing) exists already; nothing is overwritten")
        }
        let key = try X25519PrivateKey()
        try writeKey(key.rawRepresentation, to: path)
        try Array((Hex.encode(key.publicKey.rawRepresentation) + "\n").utf8).withUnsafeBytes {
            try writeNewFile($0, to: publicPath, permissions: [.ownerReadWrite, .groupRead, .otherRead])
        }
        return key.publicKey
    }

    /// Reads an official's public key, as `makeOfficialKey` writes it to `path.pub`.
    public static func readPublicKey(_ path: FilePath) throws -> X25519PublicKey {
        let bytes: [UInt8]
        do {
            bytes = try FileSystemCalls.readAll(path)
        } catch {
            throw EscrowError.file("cannot read the public key \(path): \(error)")
        }
        let text = String(decoding: bytes.prefix(2 * X25519PublicKey.byteCount + 2), as: UTF8.self)
        guard let raw = Hex.decode(text.trimmingSuffixNewline(), byteCount: X25519PublicKey.byteCount) else {
            throw EscrowError.file("\(path) is not a public key (64 lower-case hexadecimal digits)")
        }
        return try X25519PublicKey(rawRepresentation: raw)
    }

    /// Stops the process from being dumped (no core file, no ptrace or /proc/PID/mem for its own user) and gives
    /// libcrypto a locked heap, before a command handles a share or a key.
    ///
    /// - Returns: what could not be done, to tell the user; the command goes on without it.
    public static func protectProcess() -> [String] {
        var problems: [String] = []
        do {
            try ProcessCalls.forbidCoreDumps()
        } catch {
            problems.append("cannot make the process non-dumpable (\(error)): a core dump could hold key material")
        }
        if SecureHeap.initialise() == .unavailable {
            problems.append("libcrypto has no secure heap: the keys it copies live in the ordinary heap")
        }
        return problems
    }
}

extension String {
    fileprivate func trimmingSuffixNewline() -> String {
        hasSuffix("\n") ? String(dropLast()) : self
    }
}

/// Hexadecimal of public values (keys, identifiers), for reports.
extension X25519PublicKey {
    /// The key as 64 lower-case hexadecimal digits, as the escrow files write it.
    public var hexadecimal: String {
        Hex.encode(rawRepresentation)
    }
}

extension EscrowBundle {
    /// The identifier as 32 lower-case hexadecimal digits, as share files name it.
    public var identifierHexadecimal: String {
        Hex.encode(identifier)
    }
}
