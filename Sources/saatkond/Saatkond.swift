import ArgumentParser

/// The one multi-call executable of the appliance; each subcommand starts one service or client.
@main
struct Saatkond: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "saatkond",
        abstract: "The data-embassy appliance: replicated, erasure-coded, attested storage of a state's registries.",
        subcommands: [
            Dev.self, Ingest.self, Reader.self, HealthCommand.self, Watch.self, Send.self, Restore.self, List.self,
            Verify.self,
            WalPush.self,
            WalFetch.self,
            Lag.self, CatchUpCommand.self, DisksCommand.self, KeysCommand.self, Rig.self,
        ])
}
