extension SmartSummary {
    /// Applies the verdict rules: failing when the disk says so, warning on any sign of wear or damage, unknown when
    /// smartctl could not read the disk, healthy only when it read an overall health that passed and found nothing.
    mutating func judge(reader: SmartReader, exitStatus: SmartctlExitStatus?) {
        let document = reader.document
        let passed = document["smart_status", "passed"]?.bool

        // Failing: the disk's own verdict.
        if passed == false { fail(.failing, "SMART overall health: FAILED") }
        if let exitStatus, exitStatus.diskFailing, passed != false {
            fail(.failing, "smartctl: SMART status says the disk is failing (exit bit 3)")
        }

        // Warning: counters above zero and attributes at or below their threshold.
        if let count = reallocatedSectors, count > 0 { fail(.warning, "\(count) reallocated sectors") }
        if let count = pendingSectors, count > 0 { fail(.warning, "\(count) pending sectors") }
        if let count = uncorrectableErrors, count > 0 { fail(.warning, "\(count) uncorrectable errors") }
        if let count = mediaErrors, count > 0 { fail(.warning, "\(count) media errors") }
        for attribute in reader.attributesBelowThreshold { fail(.warning, attribute) }
        if let warning = document["nvme_smart_health_information_log", "critical_warning"]?.integer, warning != 0 {
            fail(.warning, "NVMe critical warning \(Self.describeCriticalWarning(warning))")
        }
        if let exitStatus {
            if exitStatus.prefailBelowThreshold {
                fail(.warning, "prefail attributes at or below threshold (exit bit 4)")
            }
            if exitStatus.belowThresholdInThePast {
                fail(.warning, "attributes were at or below threshold in the past (exit bit 5)")
            }
            if exitStatus.errorLogHasErrors { fail(.warning, "errors in the device's error log (exit bit 6)") }
            if exitStatus.selfTestLogHasErrors { fail(.warning, "errors in the device's self-test log (exit bit 7)") }
        }

        // Unknown: smartctl could not read the disk, or said nothing of its overall health.
        let message = reader.errorMessage.map { ": \($0)" } ?? ""
        var unreadable = false
        if let exitStatus {
            if exitStatus.commandLineFailed {
                fail(.unknown, "smartctl could not use the device as given (exit bit 0)\(message)")
            }
            if exitStatus.openFailed { fail(.unknown, "smartctl could not open the device (exit bit 1)\(message)") }
            if exitStatus.commandFailed {
                fail(.unknown, "a SMART command to the device failed (exit bit 2)\(message)")
            }
            unreadable = exitStatus.commandLineFailed || exitStatus.openFailed || exitStatus.commandFailed
        }
        if passed == nil && !unreadable && exitStatus?.diskFailing != true {
            fail(.unknown, "smartctl reported no SMART overall health\(message)")
        }
    }

    /// Adds `reason` and lowers the verdict to `verdict` if that is worse.
    private mutating func fail(_ verdict: Verdict, _ reason: String) {
        reasons.append(reason)
        if Self.severity(verdict) > Self.severity(self.verdict) { self.verdict = verdict }
    }

    private static func severity(_ verdict: Verdict) -> Int {
        switch verdict {
        case .healthy: 0
        case .unknown: 1
        case .warning: 2
        case .failing: 3
        }
    }

    /// The NVMe critical warning byte's bits, by the NVMe base specification's names.
    static func describeCriticalWarning(_ value: Int) -> String {
        let names = [
            "available spare below threshold", "temperature out of range", "reliability degraded",
            "media read-only", "volatile memory backup failed", "persistent memory region unreliable",
        ]
        let set = names.indices.filter { value & (1 << $0) != 0 }.map { names[$0] }
        let hex = "0x" + String(value, radix: 16)
        return set.isEmpty ? hex : "\(hex): " + set.joined(separator: ", ")
    }
}
