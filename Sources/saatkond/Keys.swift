import ArgumentParser
import CryptoPrimitives
import Foundation
import HashChain
import Keys
import LocalControl
import Logging
import Receipts
import SaatkondLogging
import SystemPackage
import TPM2

/// `saatkond keys`: the keys service, its provisioning, and the tools home uses with it.
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Seal, unseal, escrow and zeroize the appliance's keys; hand out only what a caller may have.",
        subcommands: [
            Serve.self, Provision.self, Status.self, SignPolicy.self, HomeKey.self, SignOrder.self,
            Decommission.self, KeysOfficialKey.self, KeysOpenShare.self, KeysRecover.self,
        ],
        defaultSubcommand: Serve.self)

    /// The configuration file, read and parsed with its mistakes named.
    struct ConfigurationOption: ParsableArguments {
        @Option(help: "The configuration file.")
        var config: String = "/etc/saatkond/keys.conf"

        func load() throws -> KeysConfiguration {
            try loadConfiguration(config, for: "keys") { try KeysConfiguration(parsing: $0, file: config) }
        }
    }

    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the keys service (systemd Type=notify): unseal, serve the keys socket, watch for intrusion.")
        @OptionGroup var options: ConfigurationOption

        func run() async throws {
            SaatkondLogging.bootstrap()
            try await KeysLauncher.run(configuration: try options.load(), logger: Logger(label: "saatkond.keys"))
        }
    }

    struct Provision: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make the appliance's keys, once: seal them in the TPM and write the escrow bundle for home.")
        @OptionGroup var options: ConfigurationOption

        func run() throws {
            let configuration = try options.load()
            do {
                let report = try Provisioning(
                    configuration: configuration, vault: try TPMKeyVault(configuration: configuration)
                )
                .run()
                print("provisioned: storage public key \(Hex.encode(report.storagePublicKey.rawRepresentation))")
                print("signing key \(ReceiptKeyID.of(report.signingPublicKey)) (TPM-resident)")
                print("escrow bundle for home: \(report.escrowBundle)")
            } catch {
                throw CommandFailure("saatkond keys provision: \(error)")
            }
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The keys service's state and public keys.")
        @Option(help: "The keys socket.") var socket: String = "/run/saatkond/keys.sock"
        @Flag(help: "As JSON.") var json = false

        func run() throws {
            let status: [String: JSONValue]
            do {
                status = try KeysClient(socket: socket).status()
            } catch {
                throw CommandFailure("saatkond keys status: \(error)")
            }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
                print(String(decoding: try encoder.encode(status), as: UTF8.self))
                return
            }
            print(
                "state: \(status["state"]?.stringValue ?? "?")"
                    + (status["reason"]?.stringValue.map { " (\($0))" } ?? ""))
            print("vault: \(status["vault"]?.stringValue ?? "?")")
            if let key = status["signing-key"]?.stringValue { print("signing key: \(key)") }
        }
    }

    struct SignPolicy: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sign-policy",
            abstract: "At home: approve the PCR values a release measures, so that the appliance unseals under them.",
            discussion: """
                The values come from --pcr (for a release whose measurements home computed) or, with --tcti, from a \
                reference TPM booted with the release. The output is a policy file for the appliance's policy \
                directory.
                """)
        @Option(help: "Home's policy-signing private key (P-256, PEM).") var key: String
        @Option(help: "The PCRs, e.g. sha256:0,2,4,7.") var pcrs: String
        @Option(help: "An expected value, INDEX=HEX; one per PCR.") var pcr: [String] = []
        @Option(help: "Or read the values from this TPM.") var tcti: String?
        @Option(help: "A comment for the file, e.g. the release.") var comment: String?
        @Option(help: "The policy file to write.") var output: String

        func run() throws {
            guard let selection = PCRSelection(parsing: pcrs) else {
                throw CommandFailure("saatkond keys sign-policy: --pcrs must look like sha256:0,7")
            }
            var values: [Int: [UInt8]] = [:]
            for entry in pcr {
                let parts = entry.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, let index = Int(parts[0]),
                    let value = Hex.decode(String(parts[1]).lowercased()),
                    value.count == selection.bank.digestSize
                else {
                    throw CommandFailure(
                        "saatkond keys sign-policy: --pcr \(entry) is not INDEX=HEX of the bank's size")
                }
                values[index] = value
            }
            do {
                if let tcti {
                    values = try TPMConnection(tcti: tcti).readPCRs(bank: selection.bank, indices: selection.indices)
                }
                let key = try P256PrivateKey(pemRepresentation: try SecretFile.read(key))
                let signed = try SignedPolicy.sign(
                    pcrs: selection, policy: try PolicyCalculation.digest(selection, values: values), with: key,
                    comment: comment)
                try Data(signed.text.utf8).write(to: URL(fileURLWithPath: output), options: .withoutOverwriting)
                print("wrote \(output): policy \(Hex.encode(signed.policy)) for \(selection)")
            } catch {
                throw CommandFailure("saatkond keys sign-policy: \(error)")
            }
        }
    }

    struct HomeKey: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "home-key",
            abstract: "At home: make a P-256 key pair for signing policies or decommission orders.")
        @Option(help: "The private key file to write (0600); the public key goes to the same name with .pub.")
        var output: String

        func run() throws {
            do {
                let key = try P256PrivateKey()
                try SecretFile.write(key.pemRepresentation, to: output)
                try Data(key.publicKey.pemRepresentation.utf8).write(
                    to: URL(fileURLWithPath: output + ".pub"), options: .withoutOverwriting)
                print("wrote \(output) and \(output).pub")
            } catch {
                throw CommandFailure("saatkond keys home-key: \(error)")
            }
        }
    }

    struct SignOrder: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sign-order",
            abstract: "At home: sign a decommission order with one board member's key; prints the signature.")
        @Option(help: "The private key (P-256, PEM).") var key: String
        @Option(help: "The order's text file.") var order: String

        func run() throws {
            do {
                let key = try P256PrivateKey(pemRepresentation: try SecretFile.read(key))
                let text = try String(contentsOfFile: order, encoding: .utf8)
                print(Hex.encode(try key.signature(for: Array(text.utf8))))
            } catch {
                throw CommandFailure("saatkond keys sign-order: \(error)")
            }
        }
    }

    struct Decommission: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Give the keys service a decommission order signed by a quorum of home's keys: it zeroizes.")
        @Option(help: "The keys socket.") var socket: String = "/run/saatkond/keys.sock"
        @Option(help: "The order's text file.") var order: String
        @Option(help: "A signature (hexadecimal, as sign-order prints it); one per signer.") var signature: [String]

        func run() throws {
            do {
                let text = try String(contentsOfFile: order, encoding: .utf8)
                let answer = try LocalControlClient.request(
                    path: socket, op: "decommission",
                    body: ["order": .string(text), "signatures": .array(signature.map { .string($0) })],
                    timeout: .seconds(60))
                if let error = answer["error"]?.stringValue { throw CommandFailure(error) }
                print("the keys are \(answer["state"]?.stringValue ?? "?")")
            } catch let failure as CommandFailure {
                throw CommandFailure("saatkond keys decommission: \(failure)")
            } catch {
                throw CommandFailure("saatkond keys decommission: \(error)")
            }
        }
    }
}
