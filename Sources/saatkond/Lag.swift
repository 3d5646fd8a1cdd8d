import ArgumentParser
import Foundation
import ReplicationClients
import SystemPackage

/// `saatkond lag`: how far each appliance is behind home's own copy, from home's records, for home's monitoring.
struct Lag: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show how far each appliance is behind home's copy (bytes and seconds), from home's records.",
        discussion: """
            One line per appliance, then one per stream it lacks bytes of or is being sent. With --fail-after, \
            exits 1 when an appliance has lacked bytes for longer, for a cron job or a monitoring check.
            """)

    @OptionGroup var client: ClientOptions

    @Flag(help: "Print JSON for scripts.")
    var json = false

    @Option(help: "Exit 1 when an appliance has lacked bytes for more than this many seconds.")
    var failAfter: Double?

    func run() async throws {
        guard let configuration = try client.configuration(), let records = client.records(configuration) else {
            throw CommandFailure("saatkond lag: needs --config (or $SAATKOND_CONFIG) with `state =`")
        }
        let report: LagReport
        do {
            report = try LagReport(configured: configuration.appliances.map(\.name), records: records)
        } catch {
            throw CommandFailure("saatkond lag: cannot read home's records in \(records.directory): \(error)")
        }
        let now = UInt64(Date().timeIntervalSince1970 * 1000)
        if json {
            let objects: [[String: Any]] = report.appliances.map { appliance in
                [
                    "appliance": appliance.name, "bytesBehind": appliance.bytesBehind,
                    "secondsBehind": appliance.secondsBehind(now: now),
                    "streams": appliance.streams.map { backlog in
                        [
                            "stream": backlog.stream, "homeLength": backlog.homeLength,
                            "acknowledged": backlog.acknowledged,
                            "secondsBehind": Double(now - min(now, backlog.behindSince)) / 1000,
                        ] as [String: Any]
                    },
                ]
            }
            let data = try JSONSerialization.data(withJSONObject: objects, options: [.prettyPrinted, .sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            for appliance in report.appliances {
                if appliance.streams.isEmpty {
                    print("\(appliance.name): up to date (0 bytes, 0 s behind)")
                    continue
                }
                print(
                    "\(appliance.name): \(appliance.bytesBehind) bytes, "
                        + "\(Self.seconds(appliance.secondsBehind(now: now))) s behind in \(appliance.streams.count) "
                        + "stream\(appliance.streams.count == 1 ? "" : "s")")
                for backlog in appliance.streams {
                    print(
                        "  \(backlog.stream): \(backlog.homeLength - backlog.acknowledged) of \(backlog.homeLength) "
                            + "bytes, \(Self.seconds(Double(now - min(now, backlog.behindSince)) / 1000)) s behind")
                }
            }
        }
        if let failAfter, report.appliances.contains(where: { $0.secondsBehind(now: now) > failAfter }) {
            throw ExitCode(1)
        }
    }

    private static func seconds(_ value: Double) -> String {
        String(format: "%.1f", value)
    }
}
