import ArgumentParser
import DevelopmentIdentity
import DurableFiles
import Foundation
import Receipts
import ReplicationClients
import ReplicationTransport
import SystemPackage

/// `saatkond restore`: reads a stream back and writes it to a file (atomically) or to standard output.
struct Restore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Read a stream back from the appliance.")

    @OptionGroup var client: ClientOptions

    @Option(help: "The stream to read.")
    var stream: String

    @Option(help: "Where to write it: a new file, or - for standard output.")
    var output: String = "-"

    @Option(
        help: """
            A receipt home kept (from `saatkond send --receipt`): the restore fails unless the stream's hash-chain \
            head at the receipt's length is the receipt's head, so storage replaced or truncated on the appliance is \
            detected. The receipt's signature is checked first, with --public-key.
            """)
    var expectReceipt: String?

    @Option(
        help: """
            The appliance's receipt-signing public key, for --expect-receipt: a file of 64 hexadecimal digits. By \
            default the development appliance's, keys/development-signing-key.pub in its state directory.
            """)
    var publicKey: String?

    func run() async throws {
        let expectedHead = try expectReceipt.map(expectedHead(from:))
        let endpoint = try client.endpoint()
        let restorer = StreamRestorer(endpoint: endpoint)
        let line = ProgressLine(enabled: ProcessCalls.isTerminal(.standardError), total: nil)
        defer { line.finish() }
        do {
            if output == "-" {
                _ = try await restorer.restore(stream: stream, to: .standardOutput, expectedHead: expectedHead) {
                    done, _ in line.update(done: done)
                }
            } else {
                _ = try await restorer.restore(stream: stream, toFileAt: FilePath(output), expectedHead: expectedHead) {
                    done, _ in line.update(done: done)
                }
            }
        } catch let error as ReplicationError {
            throw CommandFailure("saatkond restore: \(error)")
        }
    }

    /// The length and head a receipt states, once its signature holds and it names this stream.
    private func expectedHead(from path: String) throws -> ExpectedHead {
        let keyPath = FilePath(publicKey ?? StateDirectory(option: client.state).receiptSigningPublicKey.string)
        do {
            let key = try ReceiptVerifier.publicKey(at: keyPath)
            let receipt = try ReceiptVerifier.verify(
                receiptAt: FilePath(path), publicKey: key, expecting: ReceiptExpectation(stream: stream))
            return ExpectedHead(length: receipt.durableLength, head: receipt.head)
        } catch {
            throw CommandFailure("saatkond restore: the receipt \(path) cannot be used: \(error)")
        }
    }
}
