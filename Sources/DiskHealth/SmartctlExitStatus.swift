/// The bits of smartctl's exit status (smartctl(8), EXIT STATUS), and what each means for a disk's health.
struct SmartctlExitStatus {
    let rawValue: Int

    /// Bit 0: the command line did not parse.
    var commandLineFailed: Bool { rawValue & 1 != 0 }
    /// Bit 1: the device could not be opened, or did not answer IDENTIFY (it may be in a low-power mode).
    var openFailed: Bool { rawValue & 2 != 0 }
    /// Bit 2: a SMART or other command to the disk failed, or a SMART data structure had a checksum error.
    var commandFailed: Bool { rawValue & 4 != 0 }
    /// Bit 3: the SMART status says "DISK FAILING".
    var diskFailing: Bool { rawValue & 8 != 0 }
    /// Bit 4: prefail attributes are at or below their threshold.
    var prefailBelowThreshold: Bool { rawValue & 16 != 0 }
    /// Bit 5: the status is OK, but usage or prefail attributes were at or below their threshold in the past.
    var belowThresholdInThePast: Bool { rawValue & 32 != 0 }
    /// Bit 6: the device's error log has errors.
    var errorLogHasErrors: Bool { rawValue & 64 != 0 }
    /// Bit 7: the device's self-test log has errors.
    var selfTestLogHasErrors: Bool { rawValue & 128 != 0 }
}
