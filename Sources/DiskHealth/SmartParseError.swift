/// Why smartctl's output could not be read as smartctl's JSON at all. (Output that is smartctl's JSON but says the
/// device could not be read is not an error: it is a summary whose verdict is `unknown`, with the reason.)
public struct SmartParseError: Error, CustomStringConvertible, Hashable, Sendable {
    /// What kind of failure it is; errors compare by code.
    public struct Code: Hashable, Sendable {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// The output is larger than any smartctl report (``SmartSummary/maximumBytes``).
        public static let tooLarge = Code("tooLarge")
        /// The output is not JSON, or JSON nested deeper than any smartctl report.
        public static let notJSON = Code("notJSON")
        /// The output is JSON, but not an object with smartctl's members (`json_format_version`, `smartctl`).
        public static let notSmartctl = Code("notSmartctl")
    }

    /// What kind of failure it is.
    public let code: Code
    /// What happened and what to do.
    public let description: String

    init(_ code: Code, _ description: String) {
        self.code = code
        self.description = description
    }

    public static func == (lhs: SmartParseError, rhs: SmartParseError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
