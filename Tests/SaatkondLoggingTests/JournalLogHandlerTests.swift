import Logging
import Systemd
import Testing

@testable import SaatkondLogging

@Suite("Journal log handler")
struct JournalLogHandlerTests {
    @Test(
        "metadata keys become valid journal field names",
        arguments: [
            ("peer", "PEER"), ("stream.name", "STREAM_NAME"), ("_private", "PRIVATE"), ("9lives", "F_9LIVES"),
            ("message", "F_MESSAGE"), ("priority", "F_PRIORITY"), ("", "F_"), ("ümlaut", "MLAUT"),
        ])
    func fieldNames(key: String, expected: String) {
        let name = JournalLogHandler.fieldName(key)
        #expect(name == expected)
        #expect(Journal.isValidFieldName(name))
    }

    @Test("every swift-log level maps to a syslog priority in order of severity")
    func priorities() {
        let levels: [Logger.Level] = [.trace, .debug, .info, .notice, .warning, .error, .critical]
        let priorities = levels.map { JournalLogHandler.priority($0).rawValue }
        #expect(priorities == [7, 7, 6, 5, 4, 3, 2])
    }
}
