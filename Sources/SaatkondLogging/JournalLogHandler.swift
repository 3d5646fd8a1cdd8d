import Logging
import Systemd

/// A swift-log handler that writes structured entries to the systemd journal.
///
/// Metadata become journal fields (upper-cased, with characters the journal does not allow replaced by `_`), so
/// `journalctl -o verbose` and field matches (`journalctl PEER=…`) work without parsing messages.
public struct JournalLogHandler: LogHandler {
    /// The logger's label, sent as `SYSLOG_IDENTIFIER`-like `LOGGER` field.
    public let label: String
    /// Entries below this level are dropped.
    public var logLevel: Logger.Level = .info
    /// Metadata attached to every entry of this logger.
    public var metadata: Logger.Metadata = [:]

    /// Creates a handler for a logger named `label`.
    public init(label: String) {
        self.label = label
    }

    /// Reads or writes one metadata value.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Sends one entry.
    public func log(event: LogEvent) {
        var fields: [String: String] = [
            "LOGGER": label, "CODE_FILE": event.file, "CODE_LINE": "\(event.line)",
            "CODE_FUNC": event.function,
        ]
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) {
            fields[Self.fieldName(key)] = "\(value)"
        }
        // A journal that cannot be reached has nowhere to report to; systemd still captures standard error.
        try? Journal.send(message: "\(event.message)", priority: Self.priority(event.level), fields: fields)
    }

    static func fieldName(_ key: String) -> String {
        var name = String(key.uppercased().map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "_" })
        while name.hasPrefix("_") { name.removeFirst() }
        // A leading digit is not allowed, and MESSAGE and PRIORITY belong to the entry itself.
        if name.isEmpty || name.first!.isNumber || name == "MESSAGE" || name == "PRIORITY" { name = "F_" + name }
        return String(name.prefix(64))
    }

    static func priority(_ level: Logger.Level) -> JournalPriority {
        switch level {
        case .trace, .debug: return .debug
        case .info: return .info
        case .notice: return .notice
        case .warning: return .warning
        case .error: return .error
        case .critical: return .critical
        }
    }
}

/// Chooses where the process logs: the journal under systemd, standard error otherwise.
public enum SaatkondLogging {
    /// Bootstraps swift-log once per process.
    public static func bootstrap(level: Logger.Level = .info) {
        let toJournal = Journal.isConnectedToJournal
        LoggingSystem.bootstrap { label in
            if toJournal {
                var handler = JournalLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}
