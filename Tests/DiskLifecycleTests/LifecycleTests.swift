import Testing

@testable import DiskLifecycle

/// Every transition of the disk lifecycle, as sequences of events and the actions they produce.
@Suite("Disk lifecycle")
struct LifecycleTests {
    static let array = "a1b2c3"
    static let gib: UInt64 = 1 << 30

    static func disk(_ n: Int) -> DiskIdentity { DiskIdentity(source: .serial, value: "DISK-\(n)") }

    static func report(_ n: Int, bay: Int?, _ content: DiskContent = .blank) -> DiskReport {
        DiskReport(identity: disk(n), bay: bay, device: "/dev/loop\(n)", sizeBytes: gib, content: content)
    }

    static func configuration() -> LifecycleConfiguration {
        LifecycleConfiguration(dataShards: 8, parityShards: 3)
    }

    /// A formed 8 + 3 array: disks 1…11 in bays 1…11 as members 0…10, disk 12 a spare in bay 12.
    static func formedArray() throws -> DiskLifecycle {
        var lifecycle = DiskLifecycle(configuration: configuration())
        _ = try lifecycle.handle(.discovered((1...12).map { report($0, bay: $0) }))
        _ = try lifecycle.handle(.formed(arrayID: array))
        return lifecycle
    }

    static func alarms(_ actions: [DiskAction]) -> [String] {
        actions.compactMap { if case .alarm(let key, _) = $0 { key } else { nil } }
    }

    static func events(_ actions: [DiskAction]) -> [String] {
        actions.compactMap { if case .record(let event, _) = $0 { event } else { nil } }
    }

    @Test func twelveBlankDisksFormAnEightPlusThreeArrayWithOneSpare() throws {
        var lifecycle = DiskLifecycle(configuration: Self.configuration())
        let actions = try lifecycle.handle(.discovered((1...12).map { Self.report($0, bay: $0) }))
        let formation = actions.compactMap { if case .formArray(let members) = $0 { members } else { nil } }
        let members = try #require(formation.first)
        #expect(members.map(\.member) == Array(0..<11))
        #expect(members.map(\.bay) == (1...11).map { $0 })
        #expect(members.map(\.identity) == (1...11).map(Self.disk))
        #expect(lifecycle.disks[Self.disk(12)]?.state == .spare)
        #expect(lifecycle.disks[Self.disk(3)]?.state == .adopting(member: 2))

        let formed = try lifecycle.handle(.formed(arrayID: Self.array))
        #expect(Self.events(formed) == ["array-formed"])
        #expect(lifecycle.arrayID == Self.array)
        #expect(lifecycle.disks[Self.disk(3)]?.state == .member(2))
        #expect(lifecycle.redundancyMargin == 3)
        #expect(throws: LifecycleRefusal.self) { try lifecycle.handle(.formed(arrayID: "again")) }
    }

    @Test func disksInsertedOneByOneFormTheArrayAtTheEleventh() throws {
        var lifecycle = DiskLifecycle(configuration: Self.configuration())
        _ = try lifecycle.handle(.discovered([]))
        for n in 1...10 {
            let actions = try lifecycle.handle(.appeared(Self.report(n, bay: n)))
            #expect(!actions.contains { if case .formArray = $0 { true } else { false } })
        }
        let actions = try lifecycle.handle(.appeared(Self.report(11, bay: 11)))
        #expect(actions.contains { if case .formArray = $0 { true } else { false } })
    }

    @Test func noArrayIsFormedWhileAnotherArraysDiskIsIn() throws {
        var lifecycle = DiskLifecycle(configuration: Self.configuration())
        let reports =
            (1...11).map { Self.report($0, bay: $0) } + [Self.report(12, bay: 12, .member(arrayID: "other", index: 0))]
        let actions = try lifecycle.handle(.discovered(reports))
        // The other array is the only labelled one, so it is the majority: its one disk is mounted, nothing formed.
        #expect(!actions.contains { if case .formArray = $0 { true } else { false } })
    }

    @Test func aMemberPulledGoesMissingAndComesBackThroughACatchUp() throws {
        var lifecycle = try Self.formedArray()
        let pulled = try lifecycle.handle(.disappeared(device: "/dev/loop4"))
        #expect(lifecycle.disks[Self.disk(4)]?.state == .missing(member: 3))
        #expect(pulled.contains(.unmount(Self.disk(4))))
        #expect(pulled.contains(.indicator(bay: 4, .off)))
        #expect(Self.alarms(pulled) == ["missing-3"])
        #expect(Self.events(pulled) == ["disk-out"])
        #expect(lifecycle.redundancyMargin == 2)

        let back = try lifecycle.handle(.appeared(Self.report(4, bay: 7, .member(arrayID: Self.array, index: 3))))
        let assignment = DiskAssignment(identity: Self.disk(4), device: "/dev/loop4", bay: 7, member: 3)
        #expect(back.contains(.mount(assignment)))
        #expect(back.contains(.rebuild(assignment)))
        #expect(back.contains(.clearAlarm(key: "missing-3")))
        #expect(lifecycle.disks[Self.disk(4)]?.state == .rebuilding(member: 3))
        #expect(lifecycle.disks[Self.disk(4)]?.bay == 7)

        _ = try lifecycle.handle(.rebuilt(Self.disk(4)))
        #expect(lifecycle.disks[Self.disk(4)]?.state == .member(3))
        #expect(lifecycle.redundancyMargin == 3)
    }

    @Test func aBlankDiskInAPulledMembersBayReplacesIt() throws {
        var lifecycle = try Self.formedArray()
        _ = try lifecycle.handle(.disappeared(device: "/dev/loop5"))
        let inserted = try lifecycle.handle(.appeared(Self.report(20, bay: 5)))
        #expect(
            inserted.contains(
                .adopt(DiskAssignment(identity: Self.disk(20), device: "/dev/loop20", bay: 5, member: 4))))
        #expect(Self.events(inserted) == ["disk-in", "member-replaced"])
        #expect(lifecycle.disks[Self.disk(5)] == nil, "the replaced member is still recorded")
        #expect(lifecycle.disks[Self.disk(20)]?.state == .adopting(member: 4))

        let adopted = try lifecycle.handle(.adopted(Self.disk(20)))
        #expect(
            adopted.contains(
                .rebuild(DiskAssignment(identity: Self.disk(20), device: "/dev/loop20", bay: 5, member: 4))))
        #expect(lifecycle.disks[Self.disk(20)]?.state == .rebuilding(member: 4))
        _ = try lifecycle.handle(.rebuilt(Self.disk(20)))
        #expect(lifecycle.disks[Self.disk(20)]?.state == .member(4))

        // The old disk, back after all, is a former member: left alone, reported.
        let old = try lifecycle.handle(.appeared(Self.report(5, bay: 12, .member(arrayID: Self.array, index: 4))))
        #expect(Self.events(old) == ["disk-in", "adoption-refused"])
        #expect(lifecycle.disks[Self.disk(5)]?.state.name == "occupied")
    }

    @Test func aMemberBackWithoutItsLabelIsNeverFormatted() throws {
        var lifecycle = try Self.formedArray()
        _ = try lifecycle.handle(.disappeared(device: "/dev/loop6"))
        let back = try lifecycle.handle(.appeared(Self.report(6, bay: 6)))
        #expect(!back.contains { if case .adopt = $0 { true } else { false } })
        #expect(lifecycle.disks[Self.disk(6)]?.state.name == "unreadable")
        #expect(Self.alarms(back) == ["bay-6"])
    }

    @Test func aBlankDiskInAnEmptyBayOfAWholeArrayIsASpare() throws {
        var lifecycle = try Self.formedArray()
        _ = try lifecycle.handle(.disappeared(device: "/dev/loop12"))
        let actions = try lifecycle.handle(.appeared(Self.report(30, bay: 12)))
        #expect(lifecycle.disks[Self.disk(30)]?.state == .spare)
        #expect(Self.events(actions) == ["disk-in"])
    }

    @Test func aMissingMembersPositionWaitsForItThenTakesTheSpare() throws {
        var lifecycle = try Self.formedArray()
        let start = ContinuousClock.now
        _ = try lifecycle.handle(.tick(start))
        _ = try lifecycle.handle(.disappeared(device: "/dev/loop2"))
        #expect(try lifecycle.handle(.tick(start + .seconds(60))).isEmpty)
        let later = try lifecycle.handle(.tick(start + .seconds(15 * 60)))
        #expect(
            later.contains(
                .adopt(DiskAssignment(identity: Self.disk(12), device: "/dev/loop12", bay: 12, member: 1))))
        #expect(lifecycle.disks[Self.disk(2)] == nil)
    }

    @Test func foreignAndOccupiedDisksAreLeftAloneUnlessAnOrderIsAuthorised() throws {
        var lifecycle = try Self.formedArray()
        _ = try lifecycle.handle(.disappeared(device: "/dev/loop12"))
        let foreign = try lifecycle.handle(.appeared(Self.report(40, bay: 12, .member(arrayID: "ffff", index: 1))))
        #expect(Self.events(foreign) == ["disk-in", "adoption-refused"])
        #expect(Self.alarms(foreign) == ["bay-12"])
        #expect(lifecycle.disks[Self.disk(40)]?.state == .foreign(arrayID: "ffff", position: 1))
        #expect(!foreign.contains { if case .adopt = $0 { true } else { false } })

        _ = try lifecycle.handle(.disappeared(device: "/dev/loop3"))
        let before = lifecycle.snapshot
        let refusal = #expect(throws: LifecycleRefusal.self) {
            try lifecycle.handle(.adopt(bay: 12, authorised: false))
        }
        #expect(refusal?.reason.contains("signed by home") == true)
        #expect(lifecycle.snapshot == before)

        let ordered = try lifecycle.handle(.adopt(bay: 12, authorised: true))
        #expect(
            ordered.contains(
                .adopt(
                    DiskAssignment(
                        identity: Self.disk(40), device: "/dev/loop40", bay: 12, member: 2, overwrite: true))))

        let occupied = try lifecycle.handle(.appeared(Self.report(41, bay: 3, .occupied("ext4"))))
        #expect(Self.events(occupied) == ["disk-in", "adoption-refused"])
        #expect(lifecycle.disks[Self.disk(41)]?.state == .occupied("ext4"))
    }

    @Test func ioErrorsMakeAMemberSuspectThenFailedAndTheSpareTakesOver() throws {
        var lifecycle = try Self.formedArray()
        let first = try lifecycle.handle(.ioErrors(member: 6, count: 1))
        #expect(lifecycle.disks[Self.disk(7)]?.state == .suspect(member: 6))
        #expect(Self.alarms(first) == ["suspect-6"])
        let worse = try lifecycle.handle(.ioErrors(member: 6, count: 7))
        #expect(lifecycle.disks[Self.disk(7)]?.state == .failed(member: 6))
        #expect(worse.contains(.unmount(Self.disk(7))))
        #expect(worse.contains(.indicator(bay: 7, .fault)))
        #expect(
            worse.contains(
                .adopt(DiskAssignment(identity: Self.disk(12), device: "/dev/loop12", bay: 12, member: 6))))
        #expect(Self.events(worse) == ["member-failed", "member-replaced"])
        // The failed disk stays in its bay with its fault LED until someone pulls it.
        #expect(lifecycle.disks[Self.disk(7)]?.state == .failed(member: 6))
        #expect(lifecycle.holder(of: 6)?.identity == Self.disk(12))
        let gone = try lifecycle.handle(.disappeared(device: "/dev/loop7"))
        #expect(Self.alarms(gone).isEmpty)
        #expect(lifecycle.disks[Self.disk(7)] == nil || lifecycle.disks[Self.disk(7)]?.isPresent == false)
        #expect(throws: LifecycleRefusal.self) { try lifecycle.handle(.ioErrors(member: 99, count: 1)) }
    }

    @Test func smartVerdictsMakeMembersSuspectOrFailed() throws {
        var lifecycle = try Self.formedArray()
        _ = try lifecycle.handle(.health(Self.disk(1), .healthy, reasons: []))
        #expect(lifecycle.disks[Self.disk(1)]?.state == .member(0))
        _ = try lifecycle.handle(.health(Self.disk(1), .warning, reasons: ["8 reallocated sectors"]))
        #expect(lifecycle.disks[Self.disk(1)]?.state == .suspect(member: 0))
        let failing = try lifecycle.handle(.health(Self.disk(1), .failing, reasons: ["overall-health FAILED"]))
        #expect(lifecycle.disks[Self.disk(1)]?.state == .failed(member: 0))
        #expect(Self.alarms(failing).contains("failed-0"))
        #expect(lifecycle.disks[Self.disk(12)]?.state == .adopting(member: 0))
    }

    @Test func prepareForRemovalLightsTheBayAndItsPullRaisesNoAlarm() throws {
        var lifecycle = try Self.formedArray()
        let prepared = try lifecycle.handle(.prepareRemoval(bay: 9))
        #expect(prepared.contains(.unmount(Self.disk(9))))
        #expect(prepared.contains(.indicator(bay: 9, .locate)))
        #expect(lifecycle.disks[Self.disk(9)]?.state == .removing(member: 8))
        #expect(throws: LifecycleRefusal.self) { try lifecycle.handle(.prepareRemoval(bay: 9)) }
        let pulled = try lifecycle.handle(.disappeared(device: "/dev/loop9"))
        #expect(Self.alarms(pulled).isEmpty)
        #expect(pulled.contains(.indicator(bay: 9, .off)))
        // Its position takes the next blank disk in any bay, as a failed one's does.
        let blank = try lifecycle.handle(.appeared(Self.report(50, bay: 9)))
        #expect(blank.contains { if case .adopt(let a) = $0 { a.member == 8 } else { false } })
    }

    @Test func prepareForRemovalIsRefusedWhereThePullWouldLeaveTooFewMembers() throws {
        var lifecycle = try Self.formedArray()
        _ = try lifecycle.handle(.disappeared(device: "/dev/loop1"))
        _ = try lifecycle.handle(.disappeared(device: "/dev/loop2"))
        let before = lifecycle.snapshot
        let refusal = #expect(throws: LifecycleRefusal.self) { try lifecycle.handle(.prepareRemoval(bay: 3)) }
        #expect(refusal?.reason.contains("would leave 8 whole members") == true, "\(String(describing: refusal))")
        #expect(lifecycle.snapshot == before)
        // A spare holds nothing of the array: it may always go.
        _ = try lifecycle.handle(.prepareRemoval(bay: 12))
        #expect(throws: LifecycleRefusal.self) { try lifecycle.handle(.prepareRemoval(bay: 1)) }
    }

    @Test func outcomesThatDoNotFitAreRefusedAndChangeNothing() throws {
        var lifecycle = try Self.formedArray()
        let before = lifecycle.snapshot
        #expect(throws: LifecycleRefusal.self) { try lifecycle.handle(.adopted(Self.disk(3))) }
        #expect(throws: LifecycleRefusal.self) { try lifecycle.handle(.rebuilt(Self.disk(3))) }
        #expect(throws: LifecycleRefusal.self) { try lifecycle.handle(.adopted(Self.disk(99))) }
        #expect(throws: LifecycleRefusal.self) { try lifecycle.handle(.adopt(bay: 3, authorised: true)) }
        #expect(throws: LifecycleRefusal.self) { try lifecycle.handle(.prepareRemoval(bay: 40)) }
        #expect(lifecycle.snapshot == before)

        // A replacement pulled mid-adoption: the late "adopted" is refused.
        _ = try lifecycle.handle(.disappeared(device: "/dev/loop6"))
        _ = try lifecycle.handle(.appeared(Self.report(60, bay: 6)))
        _ = try lifecycle.handle(.disappeared(device: "/dev/loop60"))
        #expect(lifecycle.disks[Self.disk(60)]?.state == .missing(member: 5))
        #expect(throws: LifecycleRefusal.self) { try lifecycle.handle(.adopted(Self.disk(60))) }
    }

    @Test func aRestartMountsTheMembersResumesRebuildsAndMissesWhatIsGone() throws {
        var lifecycle = try Self.formedArray()
        _ = try lifecycle.handle(.disappeared(device: "/dev/loop5"))
        _ = try lifecycle.handle(.appeared(Self.report(20, bay: 5)))
        _ = try lifecycle.handle(.adopted(Self.disk(20)))

        var restarted = DiskLifecycle(configuration: Self.configuration(), restoring: lifecycle.snapshot)
        #expect(restarted.arrayID == Self.array)
        let present = [1, 2, 3, 4, 6, 7, 8, 9, 10, 12].map { n in
            Self.report(n, bay: n, n == 12 ? .blank : .member(arrayID: Self.array, index: n - 1))
        }
        let actions = try restarted.handle(
            .discovered(present + [Self.report(20, bay: 5, .member(arrayID: Self.array, index: 4))]))
        let mounts = actions.compactMap { if case .mount(let a) = $0 { a.member } else { nil } }
        #expect(Set(mounts) == Set([0, 1, 2, 3, 5, 6, 7, 8, 9, 4]))
        #expect(actions.contains { if case .rebuild(let a) = $0 { a.member == 4 } else { false } })
        #expect(restarted.disks[Self.disk(11)]?.state == .missing(member: 10))
        #expect(Self.alarms(actions) == ["missing-10"])
    }

    @Test func anArraysDisksInsertedOneByOneIntoAnEmptyChassisAreReassembled() throws {
        var lifecycle = DiskLifecycle(configuration: Self.configuration())
        _ = try lifecycle.handle(.discovered([]))
        var mounted: [Int] = []
        for n in 1...8 {
            let actions = try lifecycle.handle(
                .appeared(Self.report(n, bay: n, .member(arrayID: Self.array, index: n - 1))))
            mounted += actions.compactMap { if case .mount(let a) = $0 { a.member } else { nil } }
        }
        #expect(mounted == Array(0..<8))
        #expect(lifecycle.arrayID == Self.array)
        let ninth = try lifecycle.handle(.appeared(Self.report(9, bay: 9, .member(arrayID: Self.array, index: 8))))
        #expect(ninth.contains { if case .rebuild(let a) = $0 { a.member == 8 } else { false } })
    }

    @Test func locateTurnsTheBayLedOnAndBack() throws {
        var lifecycle = try Self.formedArray()
        #expect(try lifecycle.handle(.locate(bay: 3, on: true)) == [.indicator(bay: 3, .locate)])
        #expect(try lifecycle.handle(.locate(bay: 3, on: false)) == [.indicator(bay: 3, .off)])
        _ = try lifecycle.handle(.ioErrors(member: 2, count: 8))
        _ = try lifecycle.handle(.locate(bay: 3, on: true))
        #expect(try lifecycle.handle(.locate(bay: 3, on: false)) == [.indicator(bay: 3, .fault)])
    }

    @Test func identityPrefersTheWorldWideName() {
        let both = DiskIdentity(properties: ["ID_WWN": "0x5000c500a1b2c3d4", "ID_SERIAL": "ST4000-Z1"])
        #expect(both == DiskIdentity(source: .wwn, value: "0x5000c500a1b2c3d4"))
        #expect(DiskIdentity(properties: ["ID_SERIAL": "ST4000-Z1"])?.source == .serial)
        #expect(DiskIdentity(properties: [:], adoptionLabel: "sk3f9a") == DiskIdentity(source: .label, value: "sk3f9a"))
        #expect(DiskIdentity(properties: ["ID_SERIAL": "  "]) == nil)
        #expect(DiskIdentity(source: .serial, value: "../../etc/x y").directoryName == "serial-.._.._etc_x_y")
        #expect(DiskIdentity(source: .serial, value: "..").directoryName == "serial-..")
    }
}
