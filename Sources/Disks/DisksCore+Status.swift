import DiskLifecycle
import Foundation

extension DisksCore {
    /// Publishes the state the socket shows; runs on the loop after every change.
    func publish() {
        let lifecycle = self.lifecycle
        let bays = map.bays.map { bay in
            DisksStatus.BayStatus(
                bay: bay.number, label: bay.label,
                indicator: (indicatorState(bay.number) ?? .off).rawValue,
                disk: lifecycle.disk(inBay: bay.number).map(Self.status(of:)))
        }
        let away = lifecycle.disks.values.filter { !$0.isPresent }.sorted { $0.identity < $1.identity }
            .map(Self.status(of:))
        let maintenanceState = maintenance.state
        let alarmList = currentAlarms.sorted { $0.key < $1.key }.map {
            DisksStatus.Alarm(key: $0.key, message: $0.value)
        }
        let failure = monitorFailure
        let audit = custody.headSummary
        let history = custody.serviceHistory
        status.withLock { status in
            status.monitor = failure ?? "alive"
            status.array = .init(
                id: lifecycle.arrayID, dataShards: configuration.dataShards, parityShards: configuration.parityShards,
                wholeMembers: lifecycle.wholeMembers, redundancyMargin: lifecycle.redundancyMargin,
                degradedPositions: lifecycle.degradedPositions)
            status.bays = bays
            status.away = away
            status.rebuild = maintenanceState.rebuild
            status.lastRebuild = maintenanceState.lastRebuild
            status.scrub = maintenanceState.scrub
            status.alarms = alarmList
            status.audit = audit
            status.watchdog = history
        }
    }

    static func status(of record: DiskRecord) -> DisksStatus.DiskStatus {
        DisksStatus.DiskStatus(
            identity: record.identity.description, state: record.state.name, member: record.state.memberIndex,
            device: record.device, ioErrors: record.ioErrors, smart: record.smart?.rawValue,
            detail: record.state.description)
    }

    /// Runs an order from the console on the loop and returns the refusal, if any.
    func order(_ event: DiskEvent) async -> LifecycleRefusal? {
        await withCheckedContinuation { continuation in
            loop.execute { [self] in
                let refusal = handle(event)
                publish()
                continuation.resume(returning: refusal)
            }
        }
    }
}

extension DisksCore {
    /// Starts a scrub now (the console's order); false when one runs or there is no array.
    func scrubNow() -> Bool {
        guard let store = openStoreForMaintenance() else { return false }
        return maintenance.enqueueScrub(store: store)
    }
}
