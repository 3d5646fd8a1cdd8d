import Appliance
import ArgumentParser
import DevelopmentIdentity
import Disks
import Foundation
import LocalControl
import Logging
import SaatkondLogging

/// `saatkond disks`: the disk service, and the orders a technician gives it through its state socket.
struct DisksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "disks",
        abstract: "Discover, map, adopt, guard and rebuild the array's member disks from udev events.",
        subcommands: [Serve.self, Status.self, PrepareRemoval.self, Adopt.self, Locate.self, Scrub.self],
        defaultSubcommand: Serve.self)

    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the disks service (systemd Type=notify); see DisksConfiguration for the file format.")

        @Option(help: "The configuration file.")
        var config: String = "/etc/saatkond/disks.conf"

        func run() async throws {
            SaatkondLogging.bootstrap()
            let parsed = try loadConfiguration(config, for: "disks") {
                try DisksConfiguration(parsing: $0, file: config)
            }
            do {
                try await DisksLauncher.run(
                    configuration: parsed, file: config, logger: Logger(label: "saatkond.disks"))
            } catch let error as DisksConfigurationError {
                throw CommandFailure("saatkond disks: \(error)")
            }
        }
    }

    /// Where the service's state socket is: given, or in a `saatkond dev` state directory.
    struct Socket: ParsableArguments {
        @Option(help: "The disks service's state socket.")
        var socket: String?

        @Option(help: "Or the state directory of `saatkond dev --loop-bays`.")
        var state: String?

        var path: String {
            if let socket { return socket }
            if let state { return StateDirectory(option: state).path.appending("disks.sock").string }
            return "/run/saatkond/disks.sock"
        }

        func ask(_ op: String, _ body: [String: JSONValue] = [:]) throws -> [String: JSONValue] {
            let answer: [String: JSONValue]
            do {
                answer = try LocalControlClient.request(path: path, op: op, body: body, timeout: .seconds(30))
            } catch {
                throw CommandFailure("saatkond disks \(op): \(error)")
            }
            if let error = answer["error"]?.stringValue { throw CommandFailure("saatkond disks \(op): \(error)") }
            return answer
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The bay map with each disk's state, the array's margin, rebuild and scrub, and the alarms.")
        @OptionGroup var socket: Socket
        @Flag(help: "The state as JSON, as the socket gives it.") var json = false

        func run() throws {
            let answer = try socket.ask("state")
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
                print(String(decoding: try encoder.encode(answer), as: UTF8.self))
                return
            }
            let status = try JSONDecoder().decode(DisksStatus.self, from: JSONEncoder().encode(answer))
            print(DisksStatusText.render(status))
        }
    }

    struct PrepareRemoval: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "prepare-removal",
            abstract: "Make the disk in a bay safe to pull: checks the margin, unmounts it, lights its locate LED.")
        @OptionGroup var socket: Socket
        @Option(help: "The bay.") var bay: Int

        func run() throws {
            _ = try socket.ask("prepare-removal", ["bay": .integer(Int64(bay))])
            print("bay \(bay): ready to pull (its locate LED is on)")
        }
    }

    struct Adopt: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Adopt the spare in a bay into a position that needs a disk.")
        @OptionGroup var socket: Socket
        @Option(help: "The bay.") var bay: Int

        func run() throws {
            _ = try socket.ask("adopt", ["bay": .integer(Int64(bay))])
            print("bay \(bay): being adopted")
        }
    }

    struct Locate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Turn a bay's locate LED on (or off).")
        @OptionGroup var socket: Socket
        @Option(help: "The bay.") var bay: Int
        @Flag(help: "Turn it off.") var off = false

        func run() throws {
            _ = try socket.ask("locate", ["bay": .integer(Int64(bay)), "on": .bool(!off)])
            print("bay \(bay): locate LED \(off ? "off" : "on")")
        }
    }

    struct Scrub: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Scrub the whole array now.")
        @OptionGroup var socket: Socket

        func run() throws {
            _ = try socket.ask("scrub")
            print("scrub started; `saatkond disks status` shows what it finds")
        }
    }
}
