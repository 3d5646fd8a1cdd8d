import ConfigurationFile
import Foundation
import TPM2

/// The configuration of `saatkond keys`, parsed from a file of `key = value` lines:
///
///     state-directory = /var/lib/saatkond-keys     (sealed blobs, public keys, escrow bundle, audit log)
///     tcti = device:/dev/tpmrm0                     (swtpm:host=127.0.0.1,port=2321 in tests)
///     pcrs = sha256:0,2,4,7                         (the measurements the storage key is sealed to)
///     policy-key = /etc/saatkond/keys/home-policy.pem     (home's policy-signing public key, P-256)
///     policy-directory = /etc/saatkond/keys/policies      (policies home signed, one per file)
///     parent-handle = 0x81535301                    (optional: the persistent storage parent)
///     signing-handle = 0x81535302                   (optional: the persistent signing key)
///     official = alice /etc/saatkond/keys/officials/alice.pub   (one line per escrow official)
///     escrow-threshold = 3
///     socket = /run/saatkond/keys.sock
///     socket-group = 990                            (optional: the group that may connect)
///     ingest-uid = 991                              (storage public key and journal key; signs receipts)
///     reader-uid = 992                              (repeatable: unwraps segment keys for restores)
///     signer-uid = 993                              (repeatable: has any message but a receipt signed; none needed
///                                                    on an appliance: reports are made here, below)
///     reporter-uid = 993                            (repeatable: asks for reports and heartbeats made and signed
///                                                    here: the health service)
///     disks-socket = /run/saatkond/disks.sock       (optional: bays, disks, margin, custody log head and watchdog
///                                                    history for reports; this service a `reader-uid` there)
///     reader-socket = /run/saatkond-reader/reader.sock  (optional: the streams a verifier names; a
///                                                    `state-reader-uid` of the reader)
///     console-uid = 994                             (repeatable: status and decommission orders)
///     intrusion = /sys/class/hwmon/hwmon2/intrusion0_alarm   (optional: the chassis-intrusion switch)
///     decommission-key = /etc/saatkond/keys/home/board-1.pem (repeatable: home keys that sign decommission orders)
///     decommission-quorum = 2
///     appliance-name = ee-embassy-lu-1
///
/// Root may ask everything a listed user may. Every mistake names the file and line before anything starts.
public struct KeysConfiguration: Sendable, Hashable {
    /// The keys service's own directory.
    public var stateDirectory: String
    /// The TPM's TCTI.
    public var tcti: String
    /// The PCRs the storage secret is sealed to.
    public var pcrs: PCRSelection
    /// Home's policy-signing public key (PEM).
    public var policyKey: String
    /// Where signed policies are.
    public var policyDirectory: String
    /// The persistent handles of the storage parent and the signing key.
    public var parentHandle: UInt32 = 0x8153_5301
    public var signingHandle: UInt32 = 0x8153_5302
    /// Escrow officials: name and X25519 public key file.
    public var officials: [Official]
    /// How many officials' shares recover the key.
    public var escrowThreshold: Int
    /// The keys socket.
    public var socket: String
    public var socketGroup: UInt32?
    /// Who may ask what, by uid.
    public var ingestUIDs: Set<UInt32> = []
    public var readerUIDs: Set<UInt32> = []
    public var signerUIDs: Set<UInt32> = []
    public var consoleUIDs: Set<UInt32> = []
    public var reporterUIDs: Set<UInt32> = []
    /// Where reports' facts come from: the disks service's and the reader's state sockets.
    public var disksSocket: String?
    public var readerSocket: String?
    /// The chassis-intrusion switch: a file whose content `1` means the chassis was opened.
    public var intrusion: String?
    /// Home keys that sign decommission orders, and how many signatures one needs.
    public var decommissionKeys: [String] = []
    public var decommissionQuorum: Int = 2
    /// The appliance's name, in the escrow bundle and the audit log.
    public var applianceName: String
    /// The file's text, whose SHA-256 the service's start records in its audit log (a changed configuration is an
    /// event).
    public var text: String?

    /// An escrow official.
    public struct Official: Sendable, Hashable {
        public var name: String
        public var publicKey: String

        public init(name: String, publicKey: String) {
            self.name = name
            self.publicKey = publicKey
        }
    }

    /// A configuration with the given essentials and defaults for the rest.
    public init(
        stateDirectory: String, tcti: String, pcrs: PCRSelection, policyKey: String, policyDirectory: String,
        officials: [Official], escrowThreshold: Int, socket: String, applianceName: String
    ) {
        self.stateDirectory = stateDirectory
        self.tcti = tcti
        self.pcrs = pcrs
        self.policyKey = policyKey
        self.policyDirectory = policyDirectory
        self.officials = officials
        self.escrowThreshold = escrowThreshold
        self.socket = socket
        self.applianceName = applianceName
    }

    private static let repeatable: Set<String> = [
        "official", "reader-uid", "signer-uid", "console-uid", "ingest-uid", "decommission-key", "reporter-uid",
    ]
    private static let known: Set<String> = repeatable.union([
        "state-directory", "tcti", "pcrs", "policy-key", "policy-directory", "parent-handle", "signing-handle",
        "escrow-threshold", "socket", "socket-group", "intrusion", "decommission-quorum", "appliance-name",
        "disks-socket", "reader-socket",
    ])

    /// Parses `text`, read from `file`.
    public init(parsing text: String, file: String) throws(ConfigurationFileError) {
        let values = try ConfigurationFile(parsing: text, file: file, known: Self.known, repeatable: Self.repeatable)
        let pcrsEntry = try values.required("pcrs")
        guard let pcrs = PCRSelection(parsing: pcrsEntry.value) else {
            throw values.mistake(pcrsEntry, "'pcrs' must be a bank and PCR numbers, e.g. sha256:0,2,4,7")
        }
        var officials: [Official] = []
        for entry in values.all("official") {
            let parts = entry.value.split(separator: " ", maxSplits: 1).map { String($0) }
            guard parts.count == 2, !parts[1].trimmingCharacters(in: .whitespaces).isEmpty else {
                throw values.mistake(entry, "'official' must be a name and a public key file, e.g. `alice /etc/…`")
            }
            guard !officials.contains(where: { $0.name == parts[0] }) else {
                throw values.mistake(entry, "official '\(parts[0])' is named twice")
            }
            officials.append(Official(name: parts[0], publicKey: parts[1].trimmingCharacters(in: .whitespaces)))
        }
        guard officials.count >= 2 else {
            throw ConfigurationFileError(
                "\(file): escrow needs at least two 'official' lines (found \(officials.count))")
        }
        let thresholdEntry = try values.required("escrow-threshold")
        let threshold = try values.number(thresholdEntry, key: "escrow-threshold", in: 2...officials.count)
        self.init(
            stateDirectory: try values.required("state-directory").value, tcti: try values.required("tcti").value,
            pcrs: pcrs, policyKey: try values.required("policy-key").value,
            policyDirectory: try values.required("policy-directory").value, officials: officials,
            escrowThreshold: threshold, socket: try values.required("socket").value,
            applianceName: try values.required("appliance-name").value)
        for (key, path) in [("parent-handle", \Self.parentHandle), ("signing-handle", \Self.signingHandle)] {
            guard let entry = values.optional(key) else { continue }
            let digits = entry.value.hasPrefix("0x") ? entry.value.dropFirst(2) : Substring(entry.value)
            guard let handle = UInt32(digits, radix: 16), (0x8100_0000...0x817F_FFFF).contains(handle) else {
                throw values.mistake(entry, "'\(key)' must be an owner persistent handle, 0x81000000…0x817FFFFF")
            }
            self[keyPath: path] = handle
        }
        guard parentHandle != signingHandle else {
            throw ConfigurationFileError("\(file): 'parent-handle' and 'signing-handle' must differ")
        }
        if let entry = values.optional("socket-group") {
            socketGroup = try values.identifier(entry, key: "socket-group")
        }
        for (key, path) in [
            ("ingest-uid", \Self.ingestUIDs), ("reader-uid", \Self.readerUIDs), ("signer-uid", \Self.signerUIDs),
            ("console-uid", \Self.consoleUIDs), ("reporter-uid", \Self.reporterUIDs),
        ] {
            for entry in values.all(key) { self[keyPath: path].insert(try values.identifier(entry, key: key)) }
        }
        if let both = ingestUIDs.intersection(readerUIDs).first {
            throw ConfigurationFileError(
                "\(file): uid \(both) is both 'ingest-uid' and 'reader-uid': the network-facing writer must never unwrap"
            )
        }
        intrusion = values.optional("intrusion")?.value
        disksSocket = values.optional("disks-socket")?.value
        readerSocket = values.optional("reader-socket")?.value
        decommissionKeys = values.all("decommission-key").map(\.value)
        if let entry = values.optional("decommission-quorum") {
            decommissionQuorum = try values.number(
                entry, key: "decommission-quorum", in: 1...max(1, decommissionKeys.count))
        }
        if !decommissionKeys.isEmpty, decommissionQuorum > decommissionKeys.count {
            throw ConfigurationFileError(
                "\(file): 'decommission-quorum' is \(decommissionQuorum) but only \(decommissionKeys.count) "
                    + "'decommission-key' lines are given")
        }
        self.text = text
    }
}
