#if FUZZING
    #if canImport(Glibc)
        import Glibc
    #endif

    /// libFuzzer's driver, linked in by `-sanitize=fuzzer`. Declared here because SwiftPM renames this executable's
    /// entry point and defines `main` as an alias of it, so libFuzzer's own `main` cannot be the one that runs.
    @_extern(c, "LLVMFuzzerRunDriver")
    func runLibFuzzer(
        _ argc: UnsafeMutablePointer<CInt>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
        _ testOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
    ) -> CInt
#else
    import Foundation
    @_spi(Fuzzing) import StoreFormat
#endif

/// Built by `scripts/fuzz` (with `-DFUZZING`), this hands its arguments to libFuzzer. Built as part of the package, it
/// replays inputs: `StoreFormatFuzzer FILE|DIRECTORY...` runs each file (each file of a directory) through the same check
/// and prints how many it ran, so a crash that libFuzzer found can be debugged without the sanitizers.
@main
enum StoreFormatFuzzerMain {
    static func main() {
        #if FUZZING
            var argc = CommandLine.argc
            var argv = CommandLine.unsafeArgv
            // A closure, not the @_cdecl function itself: naming it here would emit a second copy of its C symbol.
            exit(runLibFuzzer(&argc, &argv) { data, size in fuzzOneInput(data, size) })
        #else
            let paths = CommandLine.arguments.dropFirst()
            guard !paths.isEmpty else {
                fail("usage: StoreFormatFuzzer FILE|DIRECTORY... (scripts/fuzz runs it under libFuzzer)")
            }
            var count = 0
            for path in paths {
                do {
                    for file in try files(at: path) {
                        let contents = try Data(contentsOf: URL(fileURLWithPath: file))
                        contents.withUnsafeBytes { FormatRoundTrip.check($0) }
                        count += 1
                    }
                } catch {
                    fail("StoreFormatFuzzer: cannot read \(path): \(error.localizedDescription)")
                }
            }
            print("StoreFormatFuzzer: \(count) inputs replayed, every parsed header, record and label round-trips")
        #endif
    }

    #if !FUZZING
        private static func fail(_ message: String) -> Never {
            FileHandle.standardError.write(Data((message + "\n").utf8))
            exit(2)
        }

        /// `path` itself, or the files directly inside it when it is a directory, in name order.
        private static func files(at path: String) throws -> [String] {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
                return [path]
            }
            return try FileManager.default.contentsOfDirectory(atPath: path).sorted().map { "\(path)/\($0)" }
        }
    #endif
}
