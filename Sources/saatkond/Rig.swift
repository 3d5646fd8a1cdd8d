import ArgumentParser
import DevelopmentIdentity
import Foundation
import LoopRig
import SystemPackage

/// `saatkond rig`: the hands of a technician at the development rig of `saatkond dev --loop-bays N`.
struct Rig: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Pull and insert the loop-device disks of `saatkond dev --loop-bays` (as root).",
        subcommands: [Show.self, Pull.self, Insert.self, NewDisk.self])

    struct Location: ParsableArguments {
        @Option(help: "The state directory of `saatkond dev` (default: $SAATKOND_STATE, else ./.saatkond).")
        var state: String?

        func rig() throws -> LoopRig {
            let directory = StateDirectory(option: state).path.appending("saatkond-rig")
            guard FileManager.default.fileExists(atPath: directory.string) else {
                throw CommandFailure("saatkond rig: no rig in \(directory): start `saatkond dev --loop-bays N` first")
            }
            let bays =
                (try? FileManager.default.contentsOfDirectory(atPath: directory.appending("bays").string))?
                .count ?? 0
            return try LoopRig(directory: directory, bays: max(1, bays))
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show", abstract: "Each bay: its disk, its device and its LED.")
        @OptionGroup var location: Location

        func run() throws {
            let rig = try location.rig()
            for bay in 1...rig.bays {
                let images = (try? FileManager.default.contentsOfDirectory(atPath: rig.bayDirectory(bay).string)) ?? []
                let led =
                    (try? String(contentsOfFile: rig.indicatorFile(bay: bay).string, encoding: .utf8))?
                    .trimmingCharacters(in: .whitespacesAndNewlines) ?? "off"
                let disk = images.first.map { String($0.dropLast(4)) } ?? "empty"
                print("bay \(bay): \(disk) \(rig.device(inBay: bay) ?? "-") led=\(led)")
            }
            let waiting = (try? FileManager.default.contentsOfDirectory(atPath: rig.disksDirectory.string)) ?? []
            print("disks out of the chassis: \(waiting.isEmpty ? "none" : waiting.sorted().joined(separator: ", "))")
        }
    }

    struct Pull: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pull the disk in a bay, as a hot-pull does: its I/O fails at once and the device goes away.")
        @OptionGroup var location: Location
        @Option(help: "The bay.") var bay: Int

        func run() throws {
            try location.rig().pull(bay: bay)
            print("pulled the disk in bay \(bay)")
        }
    }

    struct Insert: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Insert a disk that is out of the chassis.")
        @OptionGroup var location: Location
        @Option(help: "The bay.") var bay: Int
        @Option(help: "The disk's serial number (see `saatkond rig show`).") var disk: String

        func run() throws {
            let node = try location.rig().insert(serial: disk, bay: bay)
            print("inserted \(disk) in bay \(bay) as \(node)")
        }
    }

    struct NewDisk: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "new-disk", abstract: "Make a new blank disk, out of the chassis, ready to insert.")
        @OptionGroup var location: Location
        @Option(help: "Its serial number.") var serial: String
        @Option(help: "Its size in MiB (sparse; mkfs.xfs needs 300).") var mib: UInt64 = 1024

        func run() throws {
            _ = try location.rig().makeDisk(serial: serial, bytes: mib << 20)
            print("made blank disk \(serial) (\(mib) MiB)")
        }
    }
}
