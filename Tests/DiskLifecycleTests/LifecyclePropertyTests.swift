import PropertyBased
import Testing

@testable import DiskLifecycle

/// Any sequence of udev facts, outcomes and orders keeps the lifecycle's promises: never two disks in one position,
/// never a format of a disk that holds data without an authorised order, a refusal changes nothing, and a mount
/// point never escapes the members root.
@Suite("Disk lifecycle properties")
struct LifecyclePropertyTests {
    enum Step: CaseIterable {
        case blank, member, foreign, occupied, pull, adopted, adoptionFailed, rebuilt, ioErrors, smartFailing,
            prepare, adoptOrder, authorisedAdopt, tick, formed
    }

    @Test("random sequences of events keep the invariants")
    func invariants() async {
        let steps = zip(Gen.element(of: Step.allCases), Gen.int(in: 1...14), Gen.int(in: 0...10))
        await propertyCheck(count: 400, input: steps.array(of: 1...60)) { sequence in
            var lifecycle = DiskLifecycle(configuration: LifecycleConfiguration(dataShards: 8, parityShards: 3))
            _ = try? lifecycle.handle(.discovered([]))
            var contents: [DiskIdentity: DiskContent] = [:]
            var clock = ContinuousClock.now
            for (optionalStep, n, member) in sequence {
                guard let step = optionalStep else { continue }
                let identity = DiskIdentity(source: .serial, value: "D\(n)")
                let bay = n <= 12 ? n : nil
                let device = "/dev/loop\(n)"
                let event: DiskEvent
                switch step {
                case .blank, .member, .foreign, .occupied:
                    let content: DiskContent =
                        switch step {
                        case .blank: .blank
                        case .member: .member(arrayID: lifecycle.arrayID ?? "a", index: member)
                        case .foreign: .member(arrayID: "other", index: member)
                        default: .occupied("ext4")
                        }
                    contents[identity] = content
                    event = .appeared(
                        DiskReport(identity: identity, bay: bay, device: device, sizeBytes: 1 << 30, content: content))
                case .pull: event = .disappeared(device: device)
                case .adopted: event = .adopted(identity)
                case .adoptionFailed: event = .adoptionFailed(identity, reason: "x")
                case .rebuilt: event = .rebuilt(identity)
                case .ioErrors: event = .ioErrors(member: member, count: 3)
                case .smartFailing: event = .health(identity, .failing, reasons: [])
                case .prepare: event = .prepareRemoval(bay: n)
                case .adoptOrder: event = .adopt(bay: n, authorised: false)
                case .authorisedAdopt: event = .adopt(bay: n, authorised: true)
                case .tick:
                    clock = clock + .seconds(600)
                    event = .tick(clock)
                case .formed: event = .formed(arrayID: "a")
                }
                let before = lifecycle.snapshot
                do {
                    let actions = try lifecycle.handle(event)
                    for action in actions {
                        if case .adopt(let assignment) = action, !assignment.overwrite {
                            #expect(contents[assignment.identity] == .blank, "formatted a disk that holds data")
                        }
                        if case .formArray(let members) = action {
                            #expect(members.allSatisfy { contents[$0.identity] == .blank })
                        }
                    }
                } catch {
                    #expect(lifecycle.snapshot == before, "a refusal changed the state: \(event)")
                }
                for position in 0..<11 {
                    let holders = lifecycle.disks.values.filter { record in
                        switch record.state {
                        case .adopting(let index), .rebuilding(let index), .member(let index), .suspect(let index):
                            index == position
                        default: false
                        }
                    }
                    #expect(holders.count <= 1, "position \(position) has \(holders.count) disks")
                }
                #expect(
                    lifecycle.disks.values.filter(\.isPresent).count
                        == Set(lifecycle.disks.values.compactMap(\.device)).count)
            }
        }
    }

    @Test("a disk's mount point name never leaves the members root")
    func directoryNames() async {
        let scalars = Gen.unicodeScalar(in: "\u{0}"..."\u{2FF}").array(of: 0...300)
        await propertyCheck(count: 2000, input: scalars) { list in
            let value = String(String.UnicodeScalarView(list))
            let name = DiskIdentity(source: .serial, value: value).directoryName
            #expect(!name.contains("/") && name != "." && name != ".." && !name.isEmpty && name.count <= 200)
            #expect(name.unicodeScalars.allSatisfy { $0.isASCII })
        }
    }
}
