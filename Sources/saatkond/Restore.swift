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
    var stream: String?

    @Option(
        help: """
            Restore every stream under this prefix (whole name components, as grants match them) that this reader \
            may read, each into a file named after its stream in the --output directory.
            """)
    var prefix: String?

    @Option(help: "With --prefix: how many streams to restore at once.")
    var parallel: Int = 4

    @Option(help: "Where to write it: a new file, or - for standard output; with --prefix, a directory.")
    var output: String = "-"

    @Flag(
        help: """
            Continue the partial file a broken restore left (<output>.partial~): what it holds is hashed, only the \
            rest is fetched, and the whole must match the appliance's hash-chain head, or the partial file is removed.
            """)
    var resume = false

    @Option(
        help: """
            Read from member disks instead of an appliance: the directory whose subdirectories are the members (their \
            mount points, or copies). Needs --keys.
            """)
    var members: String?

    @Option(help: "With --members: the directory where `saatkond keys recover` wrote the recovered keys.")
    var keys: String?

    func validate() throws {
        guard (stream == nil) != (prefix == nil) else { throw ValidationError("give --stream or --prefix, not both") }
        if (members == nil) != (keys == nil) { throw ValidationError("--members and --keys go together") }
        if members != nil, output == "-" { throw ValidationError("--members restores into files: give --output") }
        if members != nil, expectReceipt != nil || resume {
            throw ValidationError("--members reads the disks whole: --expect-receipt and --resume are for an appliance")
        }
        if prefix != nil, output == "-" {
            throw ValidationError("--prefix restores into a directory: give --output DIR")
        }
        if prefix != nil, expectReceipt != nil { throw ValidationError("--expect-receipt checks one --stream") }
        if resume, output == "-" { throw ValidationError("--resume continues a file: give --output FILE") }
        guard parallel >= 1, parallel <= 64 else { throw ValidationError("--parallel must be from 1 to 64") }
    }

    @Option(
        help: """
            A receipt home kept (from `saatkond send --receipt`): the restore fails unless the stream's hash-chain \
            head at the receipt's length is the receipt's head, so storage replaced or truncated on the appliance is \
            detected. The receipt's signature is checked first, with --public-key.
            """)
    var expectReceipt: String?

    @Option(
        help: """
            The appliance's receipt-signing public key, for --expect-receipt: an ECDSA P-256 public key in PEM \
            (-----BEGIN PUBLIC KEY-----). By default the development appliance's, \
            keys/signing.pem in its state directory.
            """)
    var publicKey: String?

    func run() async throws {
        if let members, let keys {
            try restoreFromMembers(OfflineRestore(members: members, keys: keys))
            return
        }
        let endpoint = try client.endpoint(reading: true)
        if let prefix {
            try await restoreAll(under: prefix, from: endpoint)
            return
        }
        let stream = self.stream!
        var expectedHead: ExpectedHead?
        if let expectReceipt { expectedHead = try self.expectedHead(from: expectReceipt, stream: stream) }
        let restorer = StreamRestorer(endpoint: endpoint)
        let line = ProgressLine(enabled: ProcessCalls.isTerminal(.standardError), total: nil)
        defer { line.finish() }
        do {
            if output == "-" {
                _ = try await restorer.restore(stream: stream, to: .standardOutput, expectedHead: expectedHead) {
                    done, _ in line.update(done: done)
                }
            } else {
                _ = try await restorer.restore(
                    stream: stream, toFileAt: FilePath(output), expectedHead: expectedHead, resume: resume
                ) { done, _ in line.update(done: done) }
            }
        } catch let error as ReplicationError {
            throw CommandFailure("saatkond restore: \(error)")
        }
    }

    /// Reads from member disks with recovered keys: one stream into `output`, or every one under the prefix into the
    /// `output` directory.
    private func restoreFromMembers(_ offline: OfflineRestore) throws {
        do {
            let store = try offline.open()
            defer { store.shutdown() }
            guard let prefix else {
                try offline.restore(stream!, from: store, to: FilePath(output))
                return
            }
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
            let streams = try offline.streams(in: store, under: prefix)
            var failures: [String] = []
            for stream in streams {
                do {
                    try offline.restore(stream, from: store, to: FilePath(output).appending(stream))
                } catch {
                    failures.append("\(stream): \(error)")
                }
            }
            FileHandle.standardError.write(
                Data("saatkond restore: \(streams.count - failures.count) of \(streams.count) streams restored\n".utf8))
            if !failures.isEmpty { throw CommandFailure(failures.joined(separator: "\n")) }
        } catch let failure as CommandFailure {
            throw CommandFailure("saatkond restore: \(failure)")
        } catch {
            throw CommandFailure("saatkond restore: \(error)")
        }
    }

    /// Restores every stream the listing shows under `prefix` into the output directory, `parallel` at a time; each
    /// is checked against its hash chain, and a failure of one does not stop the others.
    private func restoreAll(under prefix: String, from endpoint: ReplicationEndpoint) async throws {
        let streams: [String]
        var unreadable: [String] = []
        do {
            let listed = try await StreamLister(endpoint: endpoint).list(prefix: prefix)
            unreadable = listed.filter { !$0.isReadable }.map { "\($0.name): the appliance cannot read it now" }
            streams = listed.filter(\.isReadable).map(\.name.rawValue)
        } catch let error as ReplicationError {
            throw CommandFailure("saatkond restore: cannot list \(prefix): \(error)")
        }
        do {
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        } catch {
            throw CommandFailure("saatkond restore: cannot create \(output): \(error.localizedDescription)")
        }
        let restorer = StreamRestorer(endpoint: endpoint)
        let directory = FilePath(output)
        let resume = self.resume
        let failures = await withTaskGroup(of: String?.self) { [unreadable] group in
            var failures = unreadable
            for (index, stream) in streams.enumerated() {
                if index >= parallel, let failure = await group.next() { failures += failure.map { [$0] } ?? [] }
                group.addTask {
                    do {
                        _ = try await restorer.restore(
                            stream: stream, toFileAt: directory.appending(stream), resume: resume)
                        return nil
                    } catch {
                        return "\(stream): \(error)"
                    }
                }
            }
            for await failure in group { failures += failure.map { [$0] } ?? [] }
            return failures
        }
        let listed = streams.count + unreadable.count
        FileHandle.standardError.write(
            Data("saatkond restore: \(listed - failures.count) of \(listed) streams restored\n".utf8))
        if !failures.isEmpty {
            throw CommandFailure("saatkond restore: " + failures.sorted().joined(separator: "\nsaatkond restore: "))
        }
    }

    /// The length and head a receipt states, once its signature holds and it names this stream.
    private func expectedHead(from path: String, stream: String) throws -> ExpectedHead {
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
