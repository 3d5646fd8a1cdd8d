import CryptoPrimitives
import TestSupport
import Testing

/// The key classes are `Sendable` on the strength of OpenSSL allowing concurrent use of an unmodified
/// `EVP_PKEY`; these tests exercise exactly that, from many tasks at once.
@Suite struct ConcurrencyTests {
    @Test func oneX25519KeySharedByManyTasks() async throws {
        let key = try X25519PrivateKey()
        let peers = try (0..<16).map { _ in try X25519PrivateKey() }
        let expected = try peers.map { try $0.sharedSecret(with: key.publicKey).bytes }
        let results = try await withThrowingTaskGroup(of: (Int, [UInt8]).self) { group in
            for round in 0..<64 {
                let index = round % peers.count
                let peer = peers[index].publicKey
                group.addTask { (index, try key.sharedSecret(with: peer).bytes) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.count == 64)
        for (index, secret) in results {
            #expect(secret == expected[index])
        }
    }

    @Test func oneEd25519KeySharedByManyTasks() async throws {
        let key = try Ed25519PrivateKey()
        let verdicts = try await withThrowingTaskGroup(of: Bool.self) { group in
            for round in 0..<64 {
                group.addTask {
                    let message = Array("message \(round)".utf8)
                    let signature = try key.signature(for: message)
                    return key.publicKey.isValidSignature(signature, for: message)
                        && !key.publicKey.isValidSignature(signature, for: message + [0])
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(verdicts == Array(repeating: true, count: 64))
    }
}
