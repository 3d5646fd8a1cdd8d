/// The technician's orders from the console: prepare a disk for removal, adopt a disk, locate a bay.
extension DiskLifecycle {
    mutating func prepareRemoval(bay: Int) throws(LifecycleRefusal) -> [DiskAction] {
        guard let record = disk(inBay: bay) else { throw LifecycleRefusal("bay \(bay) is empty") }
        let k = configuration.dataShards
        switch record.state {
        case .member(let index), .suspect(let index):
            // Pulling it must leave every byte readable and the array writable: k + 1 whole members.
            let remaining = wholeMembers - 1
            guard remaining >= k + 1 else {
                throw LifecycleRefusal(
                    "removing member \(index) (bay \(bay)) would leave \(remaining) whole members; the array needs "
                        + "\(k + 1) to stay writable and \(k) to read every byte"
                        + (remaining < k ? ": data would be lost" : "")
                        + ". Replace or rebuild the degraded members first (\(degradedPositions.map(String.init)))")
            }
        case .adopting:
            throw LifecycleRefusal("the disk in bay \(bay) is being adopted; wait until it is rebuilding")
        case .removing:
            throw LifecycleRefusal("the disk in bay \(bay) is already prepared for removal")
        case .missing:
            throw LifecycleRefusal("the disk in bay \(bay) is missing")
        case .rebuilding, .failed, .spare, .foreign, .occupied, .unreadable:
            break
        }
        disks[record.identity]?.state = .removing(member: record.state.memberIndex)
        var actions: [DiskAction] = []
        if record.state.memberIndex != nil, record.state != .failed(member: record.state.memberIndex!) {
            actions.append(.unmount(record.identity))
        }
        return actions + [
            .indicator(bay: bay, .locate),
            .record(
                event: "prepared-for-removal",
                fields: ["disk": record.identity.description, "bay": "\(bay)", "state": record.state.name]),
        ]
    }

    mutating func adopt(bay: Int, authorised: Bool) throws(LifecycleRefusal) -> [DiskAction] {
        guard let record = disk(inBay: bay) else { throw LifecycleRefusal("bay \(bay) is empty") }
        guard arrayID != nil else { throw LifecycleRefusal("there is no array yet to adopt a disk into") }
        var overwrite = false
        switch record.state {
        case .spare:
            break
        case .foreign, .occupied, .unreadable:
            guard authorised else {
                throw LifecycleRefusal(
                    "the disk in bay \(bay) is \(record.state): adopting it would destroy what it holds, which needs "
                        + "an order signed by home")
            }
            overwrite = true
        default:
            throw LifecycleRefusal("the disk in bay \(bay) is \(record.state), not a disk to adopt")
        }
        let vacant = (0..<configuration.memberCount).filter { holder(of: $0) == nil }
        guard let position = positionFor(blankInBay: bay) ?? vacant.first else {
            throw LifecycleRefusal("every member position is held; the disk in bay \(bay) stays a spare")
        }
        return [.record(event: "adoption-ordered", fields: ["bay": "\(bay)", "authorised": "\(authorised)"])]
            + startAdoption(of: record.identity, as: position, overwrite: overwrite)
    }

    mutating func locate(bay: Int, on: Bool) -> [DiskAction] {
        if on { locatedBays.insert(bay) } else { locatedBays.remove(bay) }
        let state = disk(inBay: bay).map { indicator(for: $0) } ?? (on ? .locate : .off)
        return [.indicator(bay: bay, state)]
    }
}
