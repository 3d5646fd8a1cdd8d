import Foundation

/// smartctl's JSON as a tree, read leniently: a member of an unexpected type reads as absent rather than failing the
/// whole document, since smartctl's output differs between versions and device types.
enum SmartJSON: Decodable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([SmartJSON])
    case object([String: SmartJSON])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([SmartJSON].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: SmartJSON].self))
        }
    }

    subscript(_ key: String) -> SmartJSON? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    /// The value at a path of member names.
    subscript(_ path: String...) -> SmartJSON? {
        var current: SmartJSON? = self
        for key in path { current = current?[key] }
        return current
    }

    var bool: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// An integer, also from a whole-valued floating-point number within Int's range.
    var integer: Int? {
        switch self {
        case .integer(let value): return Int(exactly: value)
        case .number(let value): return value.isFinite ? Int(exactly: value) : nil
        default: return nil
        }
    }

    var string: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    var array: [SmartJSON]? {
        if case .array(let value) = self { return value }
        return nil
    }
}
