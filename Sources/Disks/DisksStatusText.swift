import Foundation

/// The state as a technician reads it on an 80-column console: one line per bay, then the array, the maintenance
/// and the alarms.
public enum DisksStatusText {
    public static func render(_ status: DisksStatus) -> String {
        var lines = ["\(status.chassis) — udev monitor \(status.monitor)"]
        for bay in status.bays {
            let disk = bay.disk.map { disk in
                "\(disk.identity) \(disk.state)" + (disk.member.map { " member \($0)" } ?? "")
                    + (disk.ioErrors > 0 ? " \(disk.ioErrors) I/O errors" : "")
                    + (disk.smart.map { " SMART \($0)" } ?? "")
            }
            lines.append(
                "bay \(bay.bay) [\(bay.label)] \(disk ?? "empty")"
                    + (bay.indicator == "off" ? "" : " LED \(bay.indicator)"))
        }
        for disk in status.away { lines.append("away: \(disk.identity) \(disk.detail)") }
        let array = status.array
        lines.append(
            "array \(array.id ?? "not formed"): \(array.dataShards) + \(array.parityShards), \(array.wholeMembers) "
                + "whole members, survives \(max(0, array.redundancyMargin)) more losses")
        if let rebuild = status.rebuild {
            lines.append(
                "rebuilding member \(rebuild.member): \(rebuild.segmentsDone)/\(rebuild.segmentsTotal) segments, "
                    + "\(rebuild.bytesWritten >> 20) MiB at \(Int(rebuild.bytesPerSecond) >> 20) MiB/s")
        }
        if status.scrub.running { lines.append("scrubbing") }
        if let report = status.scrub.lastReport { lines.append("last scrub: \(report)") }
        for alarm in status.alarms { lines.append("ALARM \(alarm.message)") }
        return lines.joined(separator: "\n")
    }
}
