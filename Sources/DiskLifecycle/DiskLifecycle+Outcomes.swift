/// What the shell's work, the store and SMART report back, and the passing of time.
extension DiskLifecycle {
    mutating func formed(arrayID formedID: String) throws(LifecycleRefusal) -> [DiskAction] {
        guard forming, arrayID == nil else { throw LifecycleRefusal("no array is being formed") }
        forming = false
        arrayID = formedID
        var members: [String] = []
        for record in disks.values.sorted(by: { ($0.state.memberIndex ?? 0) < ($1.state.memberIndex ?? 0) }) {
            guard case .adopting(let index) = record.state else { continue }
            disks[record.identity]?.state = .member(index)
            members.append("\(index):\(record.identity)@\(record.bay.map(String.init) ?? "none")")
        }
        return [
            .record(event: "array-formed", fields: ["array": formedID, "members": members.joined(separator: " ")]),
            .clearAlarm(key: "formation"),
        ]
    }

    mutating func formationFailed(reason: String) throws(LifecycleRefusal) -> [DiskAction] {
        guard forming else { throw LifecycleRefusal("no array is being formed") }
        forming = false
        for record in disks.values {
            guard case .adopting = record.state else { continue }
            // Possibly formatted now: never formatted again without an order.
            disks[record.identity]?.state = .occupied("an array formation failed on it: \(reason)")
        }
        return [
            .record(event: "array-formation-failed", fields: ["reason": reason]),
            .alarm(key: "formation", message: "forming the array failed: \(reason)"),
        ]
    }

    mutating func adopted(_ identity: DiskIdentity) throws(LifecycleRefusal) -> [DiskAction] {
        let record = try record(identity)
        guard case .adopting(let index) = record.state, record.isPresent, !forming else {
            throw LifecycleRefusal("\(identity) is \(record.state), not being adopted")
        }
        disks[identity]?.state = .rebuilding(member: index)
        return [
            .record(
                event: "member-adopted",
                fields: [
                    "disk": identity.description, "member": "\(index)",
                    "bay": record.bay.map(String.init) ?? "none",
                ]),
            .rebuild(DiskAssignment(identity: identity, device: record.device!, bay: record.bay, member: index)),
        ]
    }

    mutating func adoptionFailed(_ identity: DiskIdentity, reason: String) throws(LifecycleRefusal) -> [DiskAction] {
        let record = try record(identity)
        guard case .adopting(let index) = record.state, !forming else {
            throw LifecycleRefusal("\(identity) is \(record.state), not being adopted")
        }
        disks[identity]?.state = .unreadable("adoption as member \(index) failed: \(reason)")
        return [
            .record(
                event: "adoption-failed",
                fields: ["disk": identity.description, "member": "\(index)", "reason": reason]),
            .alarm(
                key: "bay-\(record.bay.map(String.init) ?? "none")",
                message: "adopting \(identity) as member \(index) failed: \(reason)"),
        ]
    }

    mutating func rebuilt(_ identity: DiskIdentity) throws(LifecycleRefusal) -> [DiskAction] {
        let record = try record(identity)
        guard case .rebuilding(let index) = record.state, record.isPresent else {
            throw LifecycleRefusal("\(identity) is \(record.state), not being rebuilt")
        }
        disks[identity]?.state = .member(index)
        return [
            .record(event: "member-rebuilt", fields: ["disk": identity.description, "member": "\(index)"]),
            .clearAlarm(key: "rebuild-\(index)"),
        ]
    }

    mutating func rebuildFailed(_ identity: DiskIdentity, reason: String) throws(LifecycleRefusal) -> [DiskAction] {
        let record = try record(identity)
        guard case .rebuilding(let index) = record.state else {
            throw LifecycleRefusal("\(identity) is \(record.state), not being rebuilt")
        }
        // It stays rebuilding: a rebuild is resumable, and the next start (or order) runs it again.
        return [
            .record(
                event: "rebuild-failed", fields: ["disk": identity.description, "member": "\(index)", "reason": reason]
            ),
            .alarm(key: "rebuild-\(index)", message: "rebuilding member \(index) (\(identity)) failed: \(reason)"),
        ]
    }

    mutating func ioErrors(member index: Int, count: Int) throws(LifecycleRefusal) -> [DiskAction] {
        guard count > 0 else { return [] }
        guard let record = holder(of: index), record.isPresent else {
            throw LifecycleRefusal("member \(index) has no disk in the chassis to blame")
        }
        let errors = record.ioErrors + count
        disks[record.identity]?.ioErrors = errors
        if errors >= configuration.failAfterErrors {
            return fail(record, reason: "\(errors) I/O errors")
        }
        if errors >= configuration.suspectAfterErrors, case .member = record.state {
            return suspect(record, reason: "\(errors) I/O errors")
        }
        return []
    }

    mutating func health(
        _ identity: DiskIdentity, _ verdict: HealthVerdict, reasons: [String]
    ) throws(LifecycleRefusal) -> [DiskAction] {
        let record = try record(identity)
        guard record.isPresent else { throw LifecycleRefusal("\(identity) is not in the chassis") }
        disks[identity]?.smart = verdict
        let why = "SMART: " + (reasons.isEmpty ? verdict.rawValue : reasons.joined(separator: "; "))
        switch (verdict, record.state) {
        case (.failing, .member), (.failing, .suspect), (.failing, .rebuilding):
            return fail(record, reason: why)
        case (.warning, .member):
            return suspect(record, reason: why)
        case (.failing, .spare):
            disks[identity]?.state = .unreadable(why)
            return refused(record, reason: why)
        default:
            return []
        }
    }

    private mutating func suspect(_ record: DiskRecord, reason: String) -> [DiskAction] {
        guard case .member(let index) = record.state else { return [] }
        disks[record.identity]?.state = .suspect(member: index)
        return [
            .record(
                event: "member-suspect",
                fields: ["disk": record.identity.description, "member": "\(index)", "reason": reason]),
            .alarm(key: "suspect-\(index)", message: "member \(index) (\(record.identity)) is suspect: \(reason)"),
        ]
    }

    /// Gives a member up: it is unmounted, its bay shows the fault LED, and a spare takes its position.
    private mutating func fail(_ record: DiskRecord, reason: String) -> [DiskAction] {
        guard let index = record.state.memberIndex else { return [] }
        disks[record.identity]?.state = .failed(member: index)
        var actions: [DiskAction] = [
            .unmount(record.identity),
            .record(
                event: "member-failed",
                fields: ["disk": record.identity.description, "member": "\(index)", "reason": reason]),
            .clearAlarm(key: "suspect-\(index)"),
            .alarm(
                key: "failed-\(index)",
                message: "member \(index) (\(record.identity)) failed: \(reason); replace the disk in bay "
                    + "\(record.bay.map(String.init) ?? "none")"),
        ]
        if let bay = record.bay, !locatedBays.contains(bay) { actions.append(.indicator(bay: bay, .fault)) }
        if let spare = spare() { actions += startAdoption(of: spare.identity, as: index) }
        return actions
    }

    /// The spare in the lowest bay.
    func spare() -> DiskRecord? {
        guard arrayID != nil else { return nil }
        return disks.values.filter { $0.isPresent && $0.state == .spare && $0.bay != nil }.min { $0.bay! < $1.bay! }
    }

    mutating func tick(_ instant: ContinuousClock.Instant) -> [DiskAction] {
        now = instant
        guard let wait = configuration.spareReplacesMissingAfter else { return [] }
        var actions: [DiskAction] = []
        for record in disks.values.sorted(by: { $0.identity < $1.identity }) {
            guard case .missing(let index) = record.state else { continue }
            guard let since = missingSince[record.identity] else {
                // Missing since before this lifecycle knew the time (a restart): the wait starts now.
                missingSince[record.identity] = instant
                continue
            }
            guard since + wait <= instant, holder(of: index) == nil, let spare = spare() else { continue }
            actions += startAdoption(of: spare.identity, as: index)
        }
        return actions
    }
}
