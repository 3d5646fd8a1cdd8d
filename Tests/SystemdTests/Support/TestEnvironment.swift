import Foundation

/// Facts about the machine the tests run on, for `.enabled(if:)` traits.
enum TestEnvironment {
    /// Binding a socket under /run/systemd needs root.
    static var isRoot: Bool { geteuid() == 0 }

    /// journald's socket; sd_journal_sendv always writes here.
    static let journalSocketPath = "/run/systemd/journal/socket"

    /// A journald (or something pretending to be one) is listening.
    static var hasJournalSocket: Bool { FileManager.default.fileExists(atPath: journalSocketPath) }
}
