import CryptoPrimitives
import DurableFiles
import HashChain
import ReplicationProtocol
import SystemPackage

/// Checks a receipt file offline, as `saatkond verify` does at home: its form, the appliance's signature with the
/// public key alone, and that it covers what the verifier expects.
public enum ReceiptVerifier {
    /// Reads a receipt file and checks it; returns the receipt when all of it holds.
    ///
    /// The checks run in order and the first failure is thrown: the file's form, the key it names, the signature,
    /// then each expectation. A mismatch is only reported for a receipt whose signature holds, so that it speaks of
    /// what the appliance promised rather than of what someone wrote into a file.
    public static func verify(
        receiptAt path: FilePath, publicKey: P256PublicKey, expecting expectation: ReceiptExpectation = .init()
    ) throws(ReceiptVerificationError) -> Receipt {
        let bytes = try read(path, atMost: Receipt.maximumTextBytes, what: "the receipt")
        return try verify(text: bytes, from: path.string, publicKey: publicKey, expecting: expectation)
    }

    /// Checks a receipt's text form; `source` names it in messages.
    public static func verify(
        text: [UInt8], from source: String, publicKey: P256PublicKey,
        expecting expectation: ReceiptExpectation = .init()
    ) throws(ReceiptVerificationError) -> Receipt {
        let receipt: Receipt
        do {
            receipt = try Receipt(text: text)
        } catch {
            throw .malformed(source, error)
        }
        let keyID = ReceiptKeyID.of(publicKey)
        guard receipt.keyID == keyID else { throw .wrongKey(source, named: receipt.keyID, given: keyID) }
        guard receipt.isSigned(by: publicKey) else { throw .badSignature(source) }
        try expectation.check(receipt)
        return receipt
    }

    /// Reads the appliance's receipt-signing public key: a PEM P-256 public key (`-----BEGIN PUBLIC KEY-----`, as
    /// `openssl pkey -pubout` and `saatkond dev` write it, the latter to
    /// `keys/signing.pem`). The older form, an Ed25519 key as 64 hexadecimal digits, is
    /// refused by name, and so is a private key.
    public static func publicKey(at path: FilePath) throws(ReceiptVerificationError) -> P256PublicKey {
        let bytes = try read(path, atMost: 4096, what: "a public key")
        let text = String(decoding: bytes, as: UTF8.self)
        let compact = text.filter { !$0.isWhitespace }
        if compact.count == 64, Hex.decode(compact.lowercased()) != nil {
            throw .unreadable(
                "\(path) holds an Ed25519 public key (64 hexadecimal digits), which is no longer accepted: receipts "
                    + "are signed with ECDSA P-256 now (the appliance's key lives in its TPM, which has no Ed25519); "
                    + "give the appliance's P-256 public key in PEM, as `saatkond dev` writes it in "
                    + "keys/signing.pem")
        }
        if text.contains("PRIVATE KEY-----") {
            throw .unreadable(
                "\(path) holds a private key: a verifier needs the public key alone (openssl pkey -in KEY -pubout)")
        }
        do {
            return try P256PublicKey(pemRepresentation: text)
        } catch {
            throw .unreadable(
                "\(path) is not a P-256 public key in PEM (-----BEGIN PUBLIC KEY-----, as `saatkond dev` writes in "
                    + "keys/signing.pem): \((error as? CryptoError)?.message ?? "\(error)")")
        }
    }

    /// At most `limit` bytes of a file; a longer file is refused without reading the rest.
    static func read(_ path: FilePath, atMost limit: Int, what: String) throws(ReceiptVerificationError) -> [UInt8] {
        // A byte more than allowed shows a file that is too long.
        var bytes = [UInt8](repeating: 0, count: limit + 1)
        let count: Int
        do {
            count = try bytes.withUnsafeMutableBytes { try FileSystemCalls.read(path, into: $0) }
        } catch {
            throw .unreadable("cannot read \(what) \(path): \(error)")
        }
        guard count <= limit else { throw .unreadable("\(path) is longer than \(limit) bytes: it is not \(what)") }
        return Array(bytes[..<count])
    }
}

/// What a receipt must cover, beyond carrying the appliance's signature; each field left nil is not checked.
public struct ReceiptExpectation: Sendable {
    /// The stream it must name.
    public var stream: String?
    /// The durable length it must state.
    public var length: UInt64?
    /// The hash-chain head it must state.
    public var head: ChainHead?
    /// A local copy of the stream whose length and head it must state: the appliance holds exactly those bytes.
    public var copy: LocalCopy?

    /// Creates an expectation.
    public init(stream: String? = nil, length: UInt64? = nil, head: ChainHead? = nil, copy: LocalCopy? = nil) {
        self.stream = stream
        self.length = length
        self.head = head
        self.copy = copy
    }

    /// A file's length and hash-chain head (`docs/hash-chain.md`).
    public struct LocalCopy: Sendable, Hashable {
        /// The file, for messages.
        public var path: String
        /// Its length.
        public var length: UInt64
        /// The hash-chain head over all of it.
        public var head: ChainHead

        /// Reads the file at `path` once, 1 MiB at a time, and computes its chain.
        public init(hashing path: FilePath) throws(ReceiptVerificationError) {
            var chain = StreamHashChain()
            do {
                let descriptor = try FileSystemCalls.open(path, .readOnly, options: [.closeOnExec])
                try descriptor.closeAfter {
                    var chunk = [UInt8](repeating: 0, count: StreamHashChain.chunkBytes)
                    while true {
                        let count = try chunk.withUnsafeMutableBytes {
                            try FileSystemCalls.readSome(descriptor, into: $0)
                        }
                        if count == 0 { break }
                        chunk.withUnsafeBytes { chain.append(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
                    }
                }
            } catch {
                throw .unreadable("cannot read \(path): \(error)")
            }
            self.path = path.string
            length = chain.length
            head = chain.head
        }
    }

    /// Throws a ``ReceiptVerificationError`` of kind ``ReceiptVerificationError/Kind/mismatch`` naming the first
    /// field of `receipt` that differs from what is expected.
    public func check(_ receipt: Receipt) throws(ReceiptVerificationError) {
        if let stream, receipt.stream != stream {
            throw .mismatch("the receipt is for stream \(receipt.stream), not \(stream)")
        }
        if let length, receipt.durableLength != length {
            throw .mismatch("the receipt covers \(receipt.durableLength) bytes, not \(length)")
        }
        if let head, receipt.head != head {
            throw .mismatch("the receipt's head is \(receipt.head), not \(head)")
        }
        if let copy {
            guard receipt.durableLength == copy.length else {
                throw .mismatch(
                    "the receipt covers \(receipt.durableLength) bytes of \(receipt.stream), but \(copy.path) holds "
                        + "\(copy.length)")
            }
            guard receipt.head == copy.head else {
                throw .mismatch(
                    "the receipt's head \(receipt.head) differs from \(copy.path)'s \(copy.head): the appliance "
                        + "holds \(receipt.durableLength) bytes, but not the bytes of \(copy.path)")
            }
        }
    }
}

/// Why a receipt does not prove what was asked; the description says what failed, for the one line a verifier
/// prints.
public struct ReceiptVerificationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure it is.
    public enum Kind: Hashable, Sendable {
        /// A file could not be read, or is not what it should be (a key file that holds no key).
        case unreadable
        /// The receipt file is not a receipt.
        case malformed
        /// The receipt names another signing key than the one given.
        case wrongKey
        /// The signature does not verify with the public key.
        case badSignature
        /// A valid receipt, but not for what was expected.
        case mismatch
    }

    /// What kind of failure it is.
    public let kind: Kind
    /// What failed, in a sentence.
    public let description: String

    static func unreadable(_ message: String) -> Self { Self(kind: .unreadable, description: message) }
    static func malformed(_ source: String, _ error: ReceiptTextError) -> Self {
        Self(kind: .malformed, description: "\(source) is not a well-formed receipt: \(error)")
    }
    static func badSignature(_ source: String) -> Self {
        Self(
            kind: .badSignature,
            description:
                "the signature of \(source) does not verify with this public key: the receipt was altered, or another "
                + "appliance (another key) signed it")
    }
    static func mismatch(_ message: String) -> Self { Self(kind: .mismatch, description: message) }
    static func wrongKey(_ source: String, named: String, given: String) -> Self {
        Self(
            kind: .wrongKey,
            description:
                "\(source) names the signing key \(named), but the public key given is \(given): give the public "
                + "key of the appliance that signed it, or check that its key was not replaced")
    }
}
