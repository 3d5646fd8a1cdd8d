/// Disks coming and going: discovery at start, udev's add and remove, the forming of a new array.
extension DiskLifecycle {
    mutating func discovered(_ reports: [DiskReport]) -> [DiskAction] {
        var actions: [DiskAction] = []
        let found = Set(reports.map(\.identity))
        // Whatever was recorded and is not in the chassis now left while the service was not watching.
        for record in disks.values.sorted(by: { $0.identity < $1.identity }) where !found.contains(record.identity) {
            actions += left(record, pulledUnseen: true)
        }
        if arrayID == nil, let majority = Self.majorityArray(of: reports) {
            arrayID = majority
            actions.append(.record(event: "array-found", fields: ["array": majority]))
        }
        for report in reports.sorted(by: { ($0.bay ?? Int.max, $0.identity) < ($1.bay ?? Int.max, $1.identity) }) {
            actions += arrived(report, atStart: true)
        }
        actions += formIfReady()
        for bay in Set(disks.values.compactMap(\.bay)).sorted() {
            if let record = disk(inBay: bay) { actions.append(.indicator(bay: bay, indicator(for: record))) }
        }
        return actions
    }

    /// The array most member labels name, as reassembly in a spare chassis finds it (ties: the lowest identity).
    static func majorityArray(of reports: [DiskReport]) -> String? {
        var positions: [String: Set<Int>] = [:]
        for report in reports {
            if case .member(let array, let index) = report.content { positions[array, default: []].insert(index) }
        }
        return positions.max { ($0.value.count, $1.key) < ($1.value.count, $0.key) }?.key
    }

    mutating func appeared(_ report: DiskReport) -> [DiskAction] {
        if let known = disks[report.identity], known.isPresent {
            // Announced again (udev `change`): the same disk, perhaps under another node.
            disks[report.identity]?.device = report.device
            disks[report.identity]?.bay = report.bay
            return []
        }
        return arrived(report, atStart: false) + formIfReady()
    }

    private mutating func arrived(_ report: DiskReport, atStart: Bool) -> [DiskAction] {
        var actions: [DiskAction] = [
            .record(
                event: "disk-in",
                fields: [
                    "disk": report.identity.description, "bay": report.bay.map(String.init) ?? "none",
                    "device": report.device, "content": Self.describe(report.content),
                ])
        ]
        let previous = disks[report.identity]
        var record = DiskRecord(
            identity: report.identity, state: .spare, bay: report.bay, device: report.device,
            sizeBytes: report.sizeBytes)
        record.ioErrors = previous?.ioErrors ?? 0
        record.smart = previous?.smart
        let assignment = { (member: Int) in
            DiskAssignment(identity: report.identity, device: report.device, bay: report.bay, member: member)
        }
        var content = report.content
        if content == .blank, let index = previous?.state.memberIndex {
            // A member that comes back looking blank has lost its label, not its data: never formatted on that word.
            content = .unreadable("it was member \(index) and now shows no member label")
        }
        switch content {
        case .member(let array, let index) where array == arrayID:
            if let holder = holder(of: index), holder.identity != report.identity {
                record.state = .occupied("a former member \(index) of this array, replaced by \(holder.identity)")
                actions += refused(record, reason: "its position \(index) is held by \(holder.identity)")
            } else if index >= configuration.memberCount {
                record.state = .occupied("labelled as member \(index), beyond the array's \(configuration.memberCount)")
                actions += refused(record, reason: "its label names a position the array does not have")
            } else if case .member? = previous?.state, atStart {
                record.state = .member(index)
                actions.append(.mount(assignment(index)))
            } else if case .suspect? = previous?.state, atStart {
                record.state = .suspect(member: index)
                actions.append(.mount(assignment(index)))
            } else if previous == nil && atStart {
                // No record of it (a new system disk, a spare chassis): its label is all there is, and a scrub
                // checks what it holds.
                record.state = .member(index)
                actions.append(.mount(assignment(index)))
            } else {
                // Back after being away, or mid-rebuild at a restart: what it missed is written by a catch-up.
                record.state = .rebuilding(member: index)
                missingSince[report.identity] = nil
                actions += [
                    .mount(assignment(index)), .rebuild(assignment(index)),
                    .record(
                        event: "member-returned", fields: ["disk": report.identity.description, "member": "\(index)"]),
                    .clearAlarm(key: "missing-\(index)"),
                ]
            }
        case .member(let array, let index) where arrayID != nil || forming:
            record.state = .foreign(arrayID: array, position: index)
            actions += refused(record, reason: "it is a member of another array (\(array))")
        case .member(let array, let index):
            // No array yet: a disk of an array being reassembled; it is mounted once k of its disks are in.
            record.state = .foreign(arrayID: array, position: index)
        case .occupied(let what):
            record.state = .occupied(what)
            actions += refused(record, reason: "it holds data of its own (\(what))")
        case .unreadable(let why):
            record.state = .unreadable(why)
            actions += refused(record, reason: "it cannot be read (\(why))")
        case .blank where report.bay == nil:
            record.state = .occupied("outside any bay of the chassis map")
            actions += refused(record, reason: "it is in no bay of the chassis map")
        case .blank where report.sizeBytes < configuration.minimumDiskBytes:
            record.state = .occupied("too small: \(report.sizeBytes) bytes")
            actions += refused(record, reason: "it has \(report.sizeBytes) bytes, fewer than a member needs")
        case .blank:
            record.state = .spare
            disks[report.identity] = record
            if arrayID != nil, let position = positionFor(blankInBay: report.bay) {
                actions += startAdoption(of: report.identity, as: position)
            }
            return actions
        }
        disks[report.identity] = record
        return actions
    }

    /// The record of an adoption not made, and an alarm on the bay until the disk leaves.
    func refused(_ record: DiskRecord, reason: String) -> [DiskAction] {
        let bay = record.bay.map(String.init) ?? "none"
        return [
            .record(
                event: "adoption-refused",
                fields: ["disk": record.identity.description, "bay": bay, "reason": reason]),
            .alarm(key: "bay-\(bay)", message: "bay \(bay): \(record.identity) left untouched: \(reason)"),
        ]
    }

    static func describe(_ content: DiskContent) -> String {
        switch content {
        case .blank: "blank"
        case .member(let array, let index): "member \(index) of array \(array)"
        case .occupied(let what): "occupied: \(what)"
        case .unreadable(let why): "unreadable: \(why)"
        }
    }

    /// The member position a blank disk in `bay` takes at once: the position whose last disk sat in that bay (a
    /// replacement in the same slot), else one whose disk failed, was removed on purpose or is gone without a
    /// trace. A missing member elsewhere keeps its position for a while: it may come back.
    func positionFor(blankInBay bay: Int?) -> Int? {
        let vacant = (0..<configuration.memberCount).filter { holder(of: $0) == nil }
        let ghosts = { (index: Int) in self.disks.values.filter { $0.state.memberIndex == index } }
        if let bay, let sameBay = vacant.first(where: { index in ghosts(index).contains { $0.bay == bay } }) {
            return sameBay
        }
        return vacant.first { index in
            ghosts(index).allSatisfy { record in
                if case .missing = record.state { return false }
                return true
            }
        }
    }

    /// Begins adopting a spare (or an authorised disk) into `position`, releasing the position's previous disk.
    mutating func startAdoption(of identity: DiskIdentity, as position: Int, overwrite: Bool = false) -> [DiskAction] {
        guard var record = disks[identity], let device = record.device else { return [] }
        var actions: [DiskAction] = []
        for ghost in disks.values where ghost.state.memberIndex == position && ghost.identity != identity {
            actions.append(
                .record(
                    event: "member-replaced",
                    fields: [
                        "member": "\(position)", "previous": ghost.identity.description,
                        "by": identity.description,
                    ]))
            if ghost.isPresent {
                // A failed disk keeps its state (and fault LED) in its bay until it is pulled.
                if case .failed = ghost.state { continue }
                disks[ghost.identity]?.state = .occupied("a former member \(position), replaced by \(identity)")
            } else {
                disks[ghost.identity] = nil
                missingSince[ghost.identity] = nil
            }
        }
        record.state = .adopting(member: position)
        record.ioErrors = 0
        disks[identity] = record
        return actions + [
            .clearAlarm(key: "missing-\(position)"), .clearAlarm(key: "failed-\(position)"),
            .adopt(
                DiskAssignment(
                    identity: identity, device: device, bay: record.bay, member: position, overwrite: overwrite)),
        ]
    }

    /// Forms a new array once enough blank disks sit in bays, and no disk carries any array's label: a chassis
    /// being filled with another array's disks is reassembled, never overwritten by a new array.
    mutating func formIfReady() -> [DiskAction] {
        guard arrayID == nil, !forming else { return [] }
        if let reassembled = reassembleIfReady() { return reassembled }
        let present = disks.values.filter(\.isPresent)
        guard !present.contains(where: { if case .foreign = $0.state { true } else { false } }) else { return [] }
        let blanks = present.filter { $0.state == .spare && $0.bay != nil }.sorted { $0.bay! < $1.bay! }
        guard blanks.count >= configuration.memberCount else { return [] }
        forming = true
        let members = blanks.prefix(configuration.memberCount).enumerated().map { index, record in
            DiskAssignment(identity: record.identity, device: record.device!, bay: record.bay, member: index)
        }
        for member in members { disks[member.identity]?.state = .adopting(member: member.member) }
        return [.formArray(members)]
    }

    /// Takes the array whose labelled disks, inserted one by one into a chassis without an array, cover k positions:
    /// enough to read everything, so it is an array to reassemble, not a set of foreign disks.
    private mutating func reassembleIfReady() -> [DiskAction]? {
        let candidates = disks.values.filter(\.isPresent).compactMap { record -> String? in
            if case .foreign(let array, _) = record.state { return array }
            return nil
        }
        guard
            let array = Set(candidates).sorted().first(where: { candidate in
                candidates.filter { $0 == candidate }.count >= configuration.dataShards
            })
        else { return nil }
        arrayID = array
        var actions: [DiskAction] = [.record(event: "array-found", fields: ["array": array])]
        for record in disks.values.sorted(by: { $0.identity < $1.identity }) {
            guard case .foreign(array, let index?) = record.state, index < configuration.memberCount,
                holder(of: index) == nil, let device = record.device
            else { continue }
            disks[record.identity]?.state = .member(index)
            actions.append(
                .mount(DiskAssignment(identity: record.identity, device: device, bay: record.bay, member: index)))
        }
        return actions
    }

    mutating func disappeared(device: String) -> [DiskAction] {
        guard let record = disks.values.first(where: { $0.device == device }) else { return [] }
        return left(record, pulledUnseen: false)
    }

    /// A disk left the chassis (or was not found at a start).
    private mutating func left(_ record: DiskRecord, pulledUnseen: Bool) -> [DiskAction] {
        let identity = record.identity
        let bay = record.bay.map(String.init) ?? "none"
        var actions: [DiskAction] = []
        if record.isPresent {
            actions.append(
                .record(
                    event: "disk-out",
                    fields: ["disk": identity.description, "bay": bay, "state": record.state.name]))
            if let slot = record.bay {
                actions += [.indicator(bay: slot, .off), .clearAlarm(key: "bay-\(slot)")]
                locatedBays.remove(slot)
            }
        }
        switch record.state {
        case .member(let index), .suspect(let index), .rebuilding(let index), .adopting(let index):
            disks[identity]?.state = .missing(member: index)
            disks[identity]?.device = nil
            missingSince[identity] = now
            if case .adopting = record.state, forming {
                // A disk pulled mid-formation: the formation's outcome decides; the disk is gone either way.
                disks[identity] = nil
                return actions
            }
            actions += [
                .unmount(identity),
                .alarm(
                    key: "missing-\(index)",
                    message: "member \(index) (\(identity), bay \(bay)) "
                        + (pulledUnseen ? "was not found at start" : "was pulled without being prepared")
                        + (redundancyMargin >= 0
                            ? "; \(redundancyMargin) more losses before data is unreadable"
                            : "; data is unreadable until members come back")),
            ]
        case .missing:
            break
        case .failed(let index), .removing(.some(let index)):
            // Kept while its position waits for a replacement: the position's last bay is where one goes.
            if holder(of: index) == nil { disks[identity]?.device = nil } else { disks[identity] = nil }
        case .spare, .foreign, .occupied, .unreadable, .removing(.none):
            disks[identity] = nil
        }
        return actions
    }

    /// The LED a disk's state calls for, unless the console located its bay.
    func indicator(for record: DiskRecord) -> IndicatorState {
        if let bay = record.bay, locatedBays.contains(bay) { return .locate }
        switch record.state {
        case .failed: return .fault
        case .removing: return .locate
        default: return .off
        }
    }
}
