extension BayMap {
    /// Parses a bay map read from `file` (the name is only used in error messages).
    ///
    /// - Throws: ``BayMapError`` at the first mistake: an unknown key, a value set twice, a bad number, a section
    ///   other than `[bay N]`, a bay defined twice, bays not numbered 1 to n without gaps, a bay without a label or
    ///   an indicator, a label, path or enclosure slot used by two bays, a map without `chassis` or without bays.
    public init(parsing text: String, file: String) throws(BayMapError) {
        var parser = BayMapParser(file: file)
        // "\r\n" is one Character in Swift, so a file with Windows line ends needs both separators.
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        // The newline that ends the last line starts no line of its own.
        if lines.count > 1, lines.last?.isEmpty == true { lines.removeLast() }
        for (index, line) in lines.enumerated() {
            try parser.read(line: line, number: index + 1)
        }
        self = try parser.finish(lastLine: max(lines.count, 1))
    }
}

/// The parser's state between lines: the top-level values, and the `[bay N]` sections in file order.
private struct BayMapParser {
    struct Section {
        var number: Int
        var line: Int
        var label: String?
        var path: (value: String, line: Int)?
        var enclosureSlot: (value: Int, line: Int)?
        var indicator: BayIndicator?
        var keyLines: [String: Int] = [:]
    }

    static let topLevelKeys = ["chassis", "indicator"]
    static let bayKeys = ["label", "path", "enclosure-slot", "indicator"]
    static let largestBay = 999
    static let largestSlot = 9999

    let file: String
    var chassis: String?
    var indicator: BayIndicator?
    var topLevelKeyLines: [String: Int] = [:]
    var sections: [Section] = []

    init(file: String) {
        self.file = file
    }

    func error(_ line: Int, _ message: String) -> BayMapError {
        BayMapError(file: file, line: line, message: message)
    }

    mutating func read(line raw: Substring, number line: Int) throws(BayMapError) {
        let content = trimmed(raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
        guard !content.isEmpty else { return }
        if content.hasPrefix("[") {
            try startSection(content, line: line)
            return
        }
        guard let equals = content.firstIndex(of: "=") else {
            throw error(line, "expected `key = value` or `[bay N]`, found '\(content)'")
        }
        let key = trimmed(content[..<equals])
        let value = trimmed(content[content.index(after: equals)...])
        if sections.isEmpty {
            try setTopLevel(key: key, value: value, line: line)
        } else {
            try setBay(key: key, value: value, line: line)
        }
    }

    private mutating func startSection(_ content: String, line: Int) throws(BayMapError) {
        let words = content.dropFirst().dropLast().split(separator: " ", omittingEmptySubsequences: true)
        guard content.hasSuffix("]"), words.count == 2, words[0] == "bay" else {
            throw error(line, "expected `[bay N]`, found '\(content)'")
        }
        guard let number = Self.number(words[1]), (1...Self.largestBay).contains(number) else {
            throw error(line, "the bay number must be a number from 1 to \(Self.largestBay), found '\(words[1])'")
        }
        if let other = sections.first(where: { $0.number == number }) {
            throw error(line, "bay \(number) is already defined on line \(other.line)")
        }
        sections.append(Section(number: number, line: line))
    }

    private mutating func setTopLevel(key: String, value: String, line: Int) throws(BayMapError) {
        guard Self.topLevelKeys.contains(key) else {
            let known = Self.topLevelKeys.joined(separator: ", ")
            throw error(line, "unknown key '\(key)' before the first [bay N] (known there: \(known))")
        }
        if let previous = topLevelKeyLines[key] {
            throw error(line, "'\(key)' is already set on line \(previous)")
        }
        guard !value.isEmpty else { throw error(line, "'\(key)' has no value") }
        topLevelKeyLines[key] = line
        switch key {
        case "chassis":
            guard value.count <= 80, !value.unicodeScalars.contains(where: Self.isControl) else {
                throw error(line, "the chassis name must be at most 80 characters without control characters")
            }
            chassis = value
        default:
            indicator = try parseIndicator(value, line: line)
        }
    }

    private mutating func setBay(key: String, value: String, line: Int) throws(BayMapError) {
        var section = sections[sections.count - 1]
        guard Self.bayKeys.contains(key) else {
            throw error(
                line, "unknown key '\(key)' in a [bay N] section (known there: \(Self.bayKeys.joined(separator: ", ")))"
            )
        }
        if let previous = section.keyLines[key] {
            throw error(line, "'\(key)' is already set for bay \(section.number) on line \(previous)")
        }
        guard !value.isEmpty else { throw error(line, "'\(key)' has no value") }
        section.keyLines[key] = line
        switch key {
        case "label":
            guard Self.isValidLabel(value) else {
                throw error(
                    line,
                    "the label '\(value)' must be at most 32 characters, without control characters, '\"' or '\\'")
            }
            section.label = value
        case "path":
            guard Self.isValidPath(value) else {
                throw error(
                    line,
                    "path must be a udev ID_PATH (letters, digits and ':', '.', '_', '+', '-'; at most 200), "
                        + "found '\(value)'")
            }
            section.path = (value, line)
        case "enclosure-slot":
            guard let slot = Self.number(value), (0...Self.largestSlot).contains(slot) else {
                throw error(line, "enclosure-slot must be a number from 0 to \(Self.largestSlot), found '\(value)'")
            }
            section.enclosureSlot = (slot, line)
        default:
            section.indicator = try parseIndicator(value, line: line)
        }
        sections[sections.count - 1] = section
    }

    private func parseIndicator(_ value: String, line: Int) throws(BayMapError) -> BayIndicator {
        guard let indicator = BayIndicator(rawValue: value) else {
            let known = BayIndicator.allCases.map(\.rawValue).joined(separator: ", ")
            throw error(line, "indicator must be one of \(known), found '\(value)'")
        }
        return indicator
    }

    /// Checks what only the whole map can tell, and builds it.
    func finish(lastLine: Int) throws(BayMapError) -> BayMap {
        guard let chassis else {
            throw error(
                sections.first?.line ?? 1, "the map does not name its chassis: add `chassis = NAME` before [bay 1]")
        }
        guard !sections.isEmpty else {
            throw error(lastLine, "the map has no bays: add a `[bay N]` section for each bay, numbered from 1")
        }
        for (expected, section) in sections.sorted(by: { $0.number < $1.number }).enumerated()
        where section.number != expected + 1 {
            throw error(
                section.line,
                "bay \(expected + 1) is missing: bays are numbered 1 to \(sections.count) without gaps, "
                    + "found [bay \(section.number)]")
        }
        var bays: [Bay] = []
        var labels: [String: (bay: Int, line: Int)] = [:]
        var paths: [String: (bay: Int, line: Int)] = [:]
        var slots: [Int: (bay: Int, line: Int)] = [:]
        for section in sections {
            guard let label = section.label else {
                throw error(section.line, "bay \(section.number) has no label: add `label = ` what the chassis shows")
            }
            let labelLine = section.keyLines["label"] ?? section.line
            if let other = labels[label] {
                throw error(labelLine, "the label '\(label)' is already bay \(other.bay)'s (line \(other.line))")
            }
            labels[label] = (section.number, labelLine)
            if let path = section.path {
                if let other = paths[path.value] {
                    throw error(path.line, "path '\(path.value)' is already bay \(other.bay)'s (line \(other.line))")
                }
                paths[path.value] = (section.number, path.line)
            }
            if let slot = section.enclosureSlot {
                if let other = slots[slot.value] {
                    throw error(
                        slot.line, "enclosure-slot \(slot.value) is already bay \(other.bay)'s (line \(other.line))")
                }
                slots[slot.value] = (section.number, slot.line)
            }
            guard let indicator = section.indicator ?? indicator else {
                throw error(
                    section.line,
                    "bay \(section.number) has no indicator: set `indicator = ` in the section or before [bay 1]")
            }
            bays.append(
                Bay(
                    number: section.number, label: label, path: section.path?.value,
                    enclosureSlot: section.enclosureSlot?.value, indicator: indicator))
        }
        return BayMap(chassis: chassis, bays: bays)
    }

    /// A decimal number written with digits only (no sign, no spaces), or nil.
    static func number(_ text: some StringProtocol) -> Int? {
        guard !text.isEmpty, text.utf8.count <= 6, text.utf8.allSatisfy({ (48...57).contains($0) }) else { return nil }
        return Int(text)
    }

    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.generalCategory == .control
    }

    /// A label goes into udev rules (between double quotes) and onto an 80-column console.
    static func isValidLabel(_ label: String) -> Bool {
        label.count <= 32
            && !label.unicodeScalars.contains { isControl($0) || $0 == "\"" || $0 == "\\" }
    }

    /// The characters udev's path_id puts into ID_PATH.
    static func isValidPath(_ path: String) -> Bool {
        path.utf8.count <= 200
            && path.utf8.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                    || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                    || [UInt8(ascii: ":"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "+"), UInt8(ascii: "-")]
                        .contains(byte)
            }
    }
}

private func trimmed(_ text: some StringProtocol) -> String {
    var text = Substring(text)
    while let first = text.first, first == " " || first == "\t" || first == "\r" { text.removeFirst() }
    while let last = text.last, last == " " || last == "\t" || last == "\r" { text.removeLast() }
    return String(text)
}
