import Foundation

/// Runs `body` with environment variables set (a nil value unsets the variable) and restores the previous values
/// afterwards, even when `body` throws.
///
/// The environment is process-wide: only tests in the `.serialized` ``ProcessEnvironmentTests`` suite may use this,
/// and what they send must be recognisable among messages other suites might send meanwhile.
func withEnvironment<Result>(_ values: [String: String?], _ body: () throws -> Result) rethrows -> Result {
    var saved: [(name: String, value: String?)] = []
    for (name, value) in values {
        saved.append((name, getenv(name).map { String(cString: $0) }))
        if let value {
            setenv(name, value, 1)
        } else {
            unsetenv(name)
        }
    }
    defer {
        for (name, value) in saved {
            if let value {
                setenv(name, value, 1)
            } else {
                unsetenv(name)
            }
        }
    }
    return try body()
}
