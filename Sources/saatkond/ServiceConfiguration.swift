import Foundation

/// A service's configuration file, read and parsed before anything starts: a file that cannot be read, or a
/// mistake in it (which names the file and line), is the command's failure, `saatkond COMMAND: …`.
func loadConfiguration<Configuration>(
    _ path: String, for command: String, _ parse: (_ text: String) throws -> Configuration
) throws -> Configuration {
    let text: String
    do {
        text = try String(contentsOfFile: path, encoding: .utf8)
    } catch {
        throw CommandFailure("saatkond \(command): cannot read \(path): \(error)")
    }
    do {
        return try parse(text)
    } catch {
        throw CommandFailure("saatkond \(command): \(error)")
    }
}
