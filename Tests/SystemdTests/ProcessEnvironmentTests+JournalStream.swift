import Foundation
import Systemd
import Testing

/// JOURNAL_STREAM is trusted only when it names the very stream stderr is connected to.
extension ProcessEnvironmentTests {
    private func standardErrorIdentity() throws -> (device: UInt64, inode: UInt64) {
        var status = stat()
        try #require(fstat(STDERR_FILENO, &status) == 0)
        return (UInt64(status.st_dev), UInt64(status.st_ino))
    }

    @Test func journalStreamMatchingStandardErrorIsConnected() throws {
        let stderr = try standardErrorIdentity()
        let connected = withEnvironment(["JOURNAL_STREAM": "\(stderr.device):\(stderr.inode)"]) {
            Journal.isConnectedToJournal
        }
        #expect(connected)
    }

    @Test func journalStreamOfAnotherStreamIsNotConnected() throws {
        // What a child process sees after its stderr was redirected: the variable names the parent's stream.
        let stderr = try standardErrorIdentity()
        let connected = withEnvironment(["JOURNAL_STREAM": "\(stderr.device):\(stderr.inode &+ 1)"]) {
            Journal.isConnectedToJournal
        }
        #expect(!connected)
    }

    @Test(arguments: [nil, "", "garbage", "1:", ":1", "1:2:3"] as [String?])
    func journalStreamUnsetOrMalformedIsNotConnected(value: String?) {
        let connected = withEnvironment(["JOURNAL_STREAM": value]) {
            Journal.isConnectedToJournal
        }
        #expect(!connected)
    }
}
