import ArgumentParser
import BudgetEngine
import Foundation
import LuaHost

/// What every subcommand that runs a script takes: the script and the seed. (The arguments
/// after `--` are declared by each command, last, so that usage lists them at the end.)
struct ScriptArguments: ParsableArguments {
    @Argument(help: ArgumentHelp("The Lua script to run.", valueName: "file"))
    var file: String

    @Option(help: "The global seed: default seed of train{} and of weights built outside a run.")
    var seed: UInt64 = 0

    @Flag(help: """
        Run the script without os (but os.time, os.clock, os.date), io, debug, C modules or \
        binary chunks; require looks only in the script's folder and the standard library. \
        Bounds neither memory nor time.
        """)
    var sandbox = false

    /// Host options for this script; module search path from `BUDGETRAIN_PATH` (ignored by
    /// a sandboxed script's `require`).
    func hostOptions(mode: ScriptHost.Mode, outputDirectory: String = "runs") -> ScriptHost.Options {
        let path = ProcessInfo.processInfo.environment["BUDGETRAIN_PATH"].map { [$0] } ?? []
        var options = ScriptHost.Options(seed: seed, mode: mode, outputDirectory: outputDirectory, searchPath: path)
        options.sandbox = sandbox
        return options
    }

    /// Validates the options that size a run's parallelism, for `validate()` of the commands
    /// that take them: `--threads` in 1 ... 1024 (each thread has scratch buffers of its own),
    /// `--jobs` in 1 ... 256 (each job is a process).
    static func validateParallelism(threads: Int?, jobs: Int) throws {
        if let threads, !(1...ComputeThreads.maximum).contains(threads) {
            throw ValidationError("--threads must be in 1 ... \(ComputeThreads.maximum), got \(threads)")
        }
        guard (1...ScriptHost.maximumJobs).contains(jobs) else {
            throw ValidationError("--jobs must be in 1 ... \(ScriptHost.maximumJobs), got \(jobs)")
        }
    }
}

extension ArgumentHelp {
    static let scriptArguments = ArgumentHelp(
        "Arguments for the script, after `--`; it reads them from `arg` (arg[1], ...) and `...`.", valueName: "args")
}
