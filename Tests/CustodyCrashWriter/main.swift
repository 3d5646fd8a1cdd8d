import CustodyLog
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// A writer for the custody log's crash test: opens the log given as its argument, says what opening found, then
/// appends events until it is killed, printing one line after each append returned (the record is durable):
///
///     OPEN <head seq> <repaired line or 0>
///     ACK <seq> <hash>
///
/// Lines go out with write(2), unbuffered: a line exists only after its promise was made.
func say(_ line: String) {
    let bytes = Array((line + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
}

let arguments = CommandLine.arguments
guard arguments.count == 2 else {
    say("usage: CustodyCrashWriter LOG")
    exit(2)
}
do {
    let log = try CustodyLog(path: FilePath(arguments[1]))
    say("OPEN \(log.head?.seq ?? 0) \(log.repair?.line ?? 0)")
    var count = 0
    while true {
        count += 1
        let record = try log.append(
            CustodyEvent("disk.inserted", ["wwn": "0x5000c500a1b2c3d4", "bay": "\(count % 12)", "note": "crash test"]))
        say("ACK \(record.seq) \(record.hash)")
    }
} catch {
    say("ERROR \(error)")
    exit(1)
}
