import ArgumentParser
import Foundation
import LuaHost

/// What every subcommand that runs a script takes: the script and the seed. (The arguments
/// after `--` are declared by each command, last, so that usage lists them at the end.)
struct ScriptArguments: ParsableArguments {
    @Argument(help: ArgumentHelp("The Lua script to run.", valueName: "file"))
    var file: String

    @Option(help: "The global seed: default seed of train{} and of weights built outside a run.")
    var seed: UInt64 = 0

    /// Host options for this script; module search path from `BUDGETRAIN_PATH`.
    func hostOptions(mode: ScriptHost.Mode, outputDirectory: String = "runs") -> ScriptHost.Options {
        let path = ProcessInfo.processInfo.environment["BUDGETRAIN_PATH"].map { [$0] } ?? []
        return ScriptHost.Options(seed: seed, mode: mode, outputDirectory: outputDirectory, searchPath: path)
    }
}

extension ArgumentHelp {
    static let scriptArguments = ArgumentHelp(
        "Arguments for the script, after `--`; it reads them from `arg` (arg[1], ...) and `...`.", valueName: "args")
}
