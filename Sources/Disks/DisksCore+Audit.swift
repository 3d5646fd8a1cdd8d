import CustodyLog
import DurableFiles
import StoreFormat
import SystemPackage
import Watchdog

#if canImport(Glibc)
    import Glibc
#endif

/// The custody log as the one log of the appliance: a copy on every member of the array (`audit.log` at its root),
/// so that it survives the loss of the system disk, with the keys service's own log copied in, and the service's
/// configuration recorded at every start.
extension DisksCore {
    /// The name of the log's copy at the root of each member.
    static let memberCopyName = "audit.log"

    /// Records the start, with the boot and the configuration's SHA-256 (a changed configuration is on the log).
    func recordStart() {
        var fields = WatchdogHistory.startFields(configurationText: configuration.text)
        fields["service"] = "disks"
        record("service.started", fields)
    }

    /// The most records one recorder may add per minute: a compromised service cannot fill the members with them.
    static let recordsPerMinute = 30

    /// A record another service asks for through the socket (``DisksConfiguration/recorders``): only the watchdog
    /// history's events and their known fields, under the name its uid has, at most ``recordsPerMinute``. Returns why
    /// it was refused, or nil once appended.
    func recordFor(uid: UInt32, event: String, fields: [String: String]) -> String? {
        guard let service = configuration.recorders[uid] else { return "uid \(uid) records nothing here" }
        guard ServiceHistory.events.contains(event) else {
            return "only \(ServiceHistory.events.sorted().joined(separator: ", ")) are recorded for other services"
        }
        let allowed: Set<String> = ["reason", "boot-id", "config-sha256"]
        guard fields.keys.allSatisfy({ allowed.contains($0) || $0 == "service" }) else {
            return "fields are limited to \(allowed.sorted().joined(separator: ", "))"
        }
        let minute = now()
        var window = recordWindows[uid] ?? (minute, 0)
        if window.start.duration(to: minute) >= .seconds(60) { window = (minute, 0) }
        guard window.count < Self.recordsPerMinute else {
            return "more than \(Self.recordsPerMinute) records a minute from \(service)"
        }
        window.count += 1
        recordWindows[uid] = window
        var stamped = fields
        stamped["service"] = service
        if let problem = CustodyEvent.problem(with: CustodyEvent(event, stamped)) { return problem }
        record(event, stamped)
        return nil
    }

    /// Appends an event once the copies are those of the members mounted now; a log that cannot be written raises
    /// an alarm (the event itself has happened, and is in the service's own log too).
    func record(_ event: String, _ fields: [String: String]) {
        syncAuditCopies()
        do {
            _ = try custody.append(CustodyEvent(event, fields))
        } catch {
            logger.critical("the custody log refused an entry", metadata: ["event": "\(event)", "error": "\(error)"])
            raise("custody", "the custody log cannot be written: \(error)")
        }
        reportLostCopies()
    }

    /// Makes the copies those of the members mounted now: a member that came is caught up (or, when this log is
    /// new, gives it the history it kept); one that went is let go, its file untouched.
    func syncAuditCopies() {
        let root = FilePath(configuration.membersRoot)
        let wanted = Set(
            ((try? FileSystemCalls.entries(of: root)) ?? []).filter { !$0.hasPrefix(".") }.map { root.appending($0) }
                .filter { FileSystemCalls.exists($0.appending(MemberIdentity.fileName)) }
                .map { $0.appending(Self.memberCopyName) })
        for path in custody.copyPaths where !wanted.contains(path) { custody.detachCopy(at: path) }
        for key in alarms.keys where key.hasPrefix("custody-copy:") {
            if !wanted.contains(FilePath(String(key.dropFirst("custody-copy:".count)))) { alarms[key] = nil }
        }
        var setAside: [(FilePath, String)] = []
        var order = wanted.sorted { $0.string < $1.string }
        if custody.headSummary.records == 0 {
            // A new log takes the chain of the first copy attached: the longest, since a member that was away
            // missed appends the others kept (and a copy that is not a prefix of it is then set aside).
            let sizes = Dictionary(uniqueKeysWithValues: order.map { ($0, (try? FileSystemCalls.size(at: $0)) ?? 0) })
            order.sort { sizes[$0]! > sizes[$1]! }
        }
        for path in order {
            do {
                guard let attachment = try custody.attachCopy(at: path) else { continue }
                switch attachment {
                case .adopted(let records):
                    logger.notice(
                        "the custody log was empty; it continues the chain kept on a member",
                        metadata: ["copy": "\(path)", "records": "\(records)"])
                case .setAside(let aside, let reason):
                    logger.warning(
                        "a member's copy of the custody log was set aside",
                        metadata: ["copy": "\(aside)", "reason": "\(reason)"])
                    setAside.append((aside, reason))
                case .caughtUp:
                    break
                }
                // The storage owner's group may read the copy (the reader, ingest), none but root write it.
                if let owner = configuration.storageOwner {
                    _ = chown(path.string, 0, owner.gid)
                }
                alarms["custody-copy:\(path)"] = nil
            } catch {
                raise("custody-copy:\(path)", "the custody log's copy \(path) cannot be written: \(error)")
            }
        }
        for (aside, reason) in setAside {
            do {
                try custody.append(CustodyEvent("audit.copy-set-aside", ["copy": aside.string, "reason": reason]))
            } catch {
                raise("custody", "the custody log cannot be written: \(error)")
            }
        }
    }

    /// Copies in what the other services' logs gained since the last look.
    func importAuditSources() {
        for (source, path) in configuration.auditSources.sorted(by: { $0.key < $1.key }) {
            let size = try? FileSystemCalls.size(at: FilePath(path))
            guard let size, size != auditSourceSizes[source] else { continue }
            do {
                try custody.importRecords(of: FilePath(path), as: source)
                auditSourceSizes[source] = size
                alarms["audit-source:\(source)"] = nil
            } catch {
                raise("audit-source:\(source)", "the log of \(source) is not copied: \(error)")
            }
            reportLostCopies()
        }
    }

    private func reportLostCopies() {
        for lost in custody.takeLostCopies() {
            logger.warning(
                "a member's copy of the custody log left the set",
                metadata: ["copy": "\(lost.path)", "reason": "\(lost.reason)"])
        }
    }
}
