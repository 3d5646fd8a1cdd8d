import Foundation
import TestSupport
import Testing

/// PostgreSQL's continuous archiving through Saatkond, with a real PostgreSQL 15: the server, as Debian's `postgres`
/// user, archives every WAL file with `archive_command = 'saatkond wal-push --config … %p'` into a `saatkond dev`
/// that runs as a user of its own; a base backup is piped from `pg_basebackup` into `saatkond send`; new clusters
/// recover from that base backup (`saatkond restore`) and `restore_command = 'saatkond wal-fetch --config … %f %p'`,
/// to the end of the archive and to a named restore point.
@Suite(
    "PostgreSQL continuous archiving through saatkond", .serialized,
    .enabled(
        if: PostgresCluster.whyNot == nil && SaatkondExecutable.exists,
        "\(PostgresCluster.whyNot ?? "no saatkond executable")")
)
struct PostgresArchivingTests {
    static let applianceUser = UnprivilegedUser(id: 61_021)
    static let cluster = "ee.population.pg"
    static let restorePoint = "before-the-mistake"

    /// What the tables hold: the accounts' balance and count, the history's count and sum, the branches' balance.
    static let rows = """
        SELECT (SELECT sum(abalance) || '/' || count(*) FROM pgbench_accounts) || ' '
            || (SELECT count(*) || '/' || coalesce(sum(delta), 0) FROM pgbench_history) || ' '
            || (SELECT sum(bbalance) FROM pgbench_branches)
        """

    /// The scratch directory every user may enter, holding a copy of `saatkond` they may all run; `postgres`'s home
    /// (clusters, sockets, the sender's configuration and state), and the appliance user's home (its state).
    struct Rig {
        let scratch: ScratchDirectory
        let postgres: UnprivilegedUser
        let executable: String
        let home: String
        let applianceHome: String

        init(postgres: UnprivilegedUser) throws {
            self.postgres = postgres
            scratch = try ScratchDirectory(prefix: "saatkond-pg")
            home = "\(scratch.path)/home"
            applianceHome = "\(scratch.path)/appliance"
            executable = "\(scratch.path)/saatkond"
            do {
                _ = try Command.run("chmod", ["0755", scratch.path])
                _ = try Command.run("install", ["-m", "0755", SaatkondExecutable.path, executable])
                for (directory, user) in [(home, postgres), (applianceHome, PostgresArchivingTests.applianceUser)] {
                    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
                    _ = try Command.run("chmod", ["0700", directory])
                    try user.own(directory)
                }
            } catch {
                scratch.remove()
                throw error
            }
        }

        /// Creates `path` (in `postgres`'s home) as a directory of `postgres`'s, mode 0700.
        func directory(_ name: String) throws -> String {
            let path = "\(home)/\(name)"
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            _ = try Command.run("chmod", ["0700", path])
            try postgres.own(path)
            return path
        }

        func cluster(_ name: String) throws -> PostgresCluster {
            try PostgresCluster(
                dataDirectory: "\(home)/\(name)", socketDirectory: try directory("\(name)-socket"), user: postgres,
                home: home, logs: scratch.path)
        }

        /// Writes the sender's configuration for `appliance` in `postgres`'s home: its own state, and a copy of the
        /// sender's three files of the development identity that `saatkond dev` made in its state directory (which
        /// only the appliance's user may read), as `development-state`.
        func senderConfiguration(for appliance: DevAppliance) throws -> String {
            let view = try directory("appliance-view")
            try FileManager.default.createDirectory(atPath: "\(view)/identity", withIntermediateDirectories: true)
            let identity = "\(appliance.state)/identity"
            // Only what a sender uses: never the CA's or the appliance's private key.
            for file in ["development-ca.pem", "sender.pem", "sender-key.pem"] {
                _ = try postgres.copy("\(identity)/\(file)", into: "\(view)/identity")
            }
            try FileManager.default.createDirectory(atPath: "\(view)/keys", withIntermediateDirectories: true)
            let keys = "\(appliance.state)/keys"
            for file in try FileManager.default.contentsOfDirectory(atPath: keys) where file.hasSuffix(".pub") {
                _ = try postgres.copy("\(keys)/\(file)", into: "\(view)/keys")
            }
            try postgres.own(view)
            let configuration = "\(home)/sender.conf"
            try """
            # PostgreSQL's archive_command and restore_command on cluster \(PostgresArchivingTests.cluster)
            cluster = \(PostgresArchivingTests.cluster)
            state = \(try directory("sender-state"))
            [appliance lu1]
            connect = 127.0.0.1:\(appliance.port)
            development-state = \(view)

            """.write(toFile: configuration, atomically: true, encoding: .utf8)
            try postgres.own(configuration)
            _ = try Command.run("chmod", ["0600", configuration])
            return configuration
        }
    }

    @Test(
        """
        A cluster archiving with wal-push runs pgbench, sends a base backup, runs more; new clusters recover with \
        wal-fetch to the same rows, and to a named restore point
        """)
    func archiveAndRecover() throws {
        let started = ContinuousClock.now
        guard let postgres = PostgresCluster.systemUser else { throw TestSupportError("no postgres user") }
        let rig = try Rig(postgres: postgres)
        defer { rig.scratch.remove() }
        let appliance = try DevAppliance(
            state: "\(rig.applianceHome)/state", logs: rig.scratch.path, user: Self.applianceUser,
            executable: rig.executable)
        defer { _ = appliance.stop() }
        let configuration = try rig.senderConfiguration(for: appliance)
        let saatkond = "\(rig.executable)"
        let config = "--config \(configuration)"
        let archiveCommand = "\(saatkond) wal-push \(config) %p"
        let restoreCommand = "\(saatkond) wal-fetch \(config) %f %p"

        // Cluster A: archiving every WAL file through wal-push, and forcing a switch at least every 5 s.
        let primary = try rig.cluster("primary")
        defer { primary.stop() }
        try primary.create()
        try primary.configure([
            "wal_level": "replica", "archive_mode": "on", "archive_timeout": "5",
            "archive_command": archiveCommand,
        ])
        try primary.start()
        try primary.pgbench(["-i", "-s", "2", "-q"])
        try primary.pgbench(["-T", "3", "-c", "2", "-n"])

        // The base backup, straight from pg_basebackup into the appliance (a fast checkpoint: the default spreads
        // it over minutes).
        let base = "\(Self.cluster).base.first"
        let pgBasebackup = "\(PostgresCluster.binaries)/pg_basebackup"
        try primary.shell(
            "'\(pgBasebackup)' \(primary.connection.joined(separator: " ")) -D - -Ft -X fetch -c fast"
                + " | '\(saatkond)' send \(config) --stream \(base) -")
        try primary.pgbench(["-T", "3", "-c", "2", "-n"])

        // The restore point, the rows it should bring back, and a mistake after it: the history deleted, half the
        // accounts zeroed.
        try primary.query("SELECT pg_create_restore_point('\(Self.restorePoint)')")
        let atRestorePoint = try primary.query(Self.rows)
        try primary.query("DELETE FROM pgbench_history; UPDATE pgbench_accounts SET abalance = 0 WHERE aid % 2 = 0")
        let final = try primary.query(Self.rows)
        #expect(final != atRestorePoint)
        let switched = try primary.query("SELECT pg_walfile_name(pg_switch_wal())")
        try primary.wait(
            until: "SELECT last_archived_wal >= '\(switched)' FROM pg_stat_archiver", is: "t", timeout: 60)
        let archiver = try primary.query("SELECT archived_count || ' ' || failed_count FROM pg_stat_archiver")
        #expect(archiver.hasSuffix(" 0"), "archived and failed: \(archiver)\n\(primary.serverLog(lines: 30))")
        primary.stop()

        // A WAL file the archive lacks is not fetched, and nothing is written in its place.
        let absent = "\(rig.home)/absent"
        let missing = try primary.runStatus(
            saatkond, ["wal-fetch", "--config", configuration, "00000099.history", absent])
        #expect(missing.status != 0, "wal-fetch of a history file the archive lacks succeeded: \(missing.output)")
        #expect(!FileManager.default.fileExists(atPath: absent))
        #expect(!FileManager.default.fileExists(atPath: absent + ".saatkond-fetch"))

        // The last segment, fetched back, is archived again as PostgreSQL may after a crash: the same bytes succeed,
        // other bytes under its name fail.
        let again = "\(try rig.directory("again"))/\(switched)"
        try primary.run(saatkond, ["wal-fetch", "--config", configuration, switched, again])
        #expect(try primary.runStatus(saatkond, ["wal-push", "--config", configuration, again]).status == 0)
        let altered = "\(try rig.directory("altered"))/\(switched)"
        try primary.run("/bin/cp", [again, altered])
        try primary.run("/usr/bin/truncate", ["-s", "-1", altered])
        try primary.run("/bin/sh", ["-c", "printf x >> \"$0\"", altered])
        #expect(sameBytes(again, altered) == false)
        let refused = try primary.runStatus(saatkond, ["wal-push", "--config", configuration, altered])
        #expect(refused.status != 0, "wal-push of other bytes under an archived segment's name succeeded")

        // The base backup, back from the appliance, for both recoveries.
        let backup = "\(rig.home)/base.tar"
        try primary.run(saatkond, ["restore", "--config", configuration, "--stream", base, "--output", backup])

        // Recovery 1: to the end of the archive, where A stopped.
        let full = try rig.cluster("full")
        defer { full.stop() }
        try recover(full, from: backup, rig: rig, ["restore_command": restoreCommand, "archive_mode": "off"])
        #expect(try full.query(Self.rows) == final)
        #expect(full.serverLog().contains("restored log file \"\(switched)\" from archive"))

        // Recovery 2: to the restore point, before the mistake.
        let pointInTime = try rig.cluster("point-in-time")
        defer { pointInTime.stop() }
        try recover(
            pointInTime, from: backup, rig: rig,
            [
                "restore_command": restoreCommand, "archive_mode": "off", "recovery_target_name": Self.restorePoint,
                "recovery_target_action": "promote",
            ])
        #expect(try pointInTime.query(Self.rows) == atRestorePoint)
        #expect(pointInTime.serverLog().contains("recovery stopping at restore point \"\(Self.restorePoint)\""))
        print("PostgresArchivingTests: \(archiver) archived/failed; ran \(ContinuousClock.now - started)")
    }

    /// Fills `cluster`'s data directory from the base backup `backup`, adds `settings` and recovery.signal, starts
    /// it and waits until recovery ends.
    private func recover(
        _ cluster: PostgresCluster, from backup: String, rig: Rig, _ settings: KeyValuePairs<String, String>
    ) throws {
        let data = try rig.directory(URL(fileURLWithPath: cluster.dataDirectory).lastPathComponent)
        try cluster.run("/bin/tar", ["-xf", backup, "-C", data])
        try cluster.configure(settings)
        try cluster.run("/usr/bin/touch", ["\(data)/recovery.signal"])
        try cluster.start()
        try cluster.wait(until: "SELECT pg_is_in_recovery()", is: "f", timeout: 60)
    }
}
