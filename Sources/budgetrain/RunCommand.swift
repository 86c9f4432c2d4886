import ArgumentParser
import BudgetEngine
import Foundation
import LuaHost

/// `budgetrain run exp.lua`: runs the script (its `train{}` calls train as they come), then
/// every experiment it declared.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a Lua script: train what it asks for.",
        discussion: """
            Examples:
              budgetrain run examples/quickstart.lua
              budgetrain run exp.lua --seed 3 --threads 2 -- --quick
            """)

    @OptionGroup var script: ScriptArguments

    @Option(help: ArgumentHelp("Directory for run outputs (results, metrics, reports).", valueName: "dir"))
    var out: String = "runs"

    @Option(help: "Threads for BLAS and the engine's loops (default: the number of cores).")
    var threads: Int?

    @Flag(help: "Show no progress bar or progress lines.")
    var quiet = false

    @Argument(parsing: .postTerminator, help: .scriptArguments)
    var scriptArguments: [String] = []

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
    }

    func run() throws {
        BLASLibrary.setThreads(threads ?? ThreadCount.default)
        let host = try ScriptHost(options: script.hostOptions(mode: .run, outputDirectory: out))
        let display = quiet ? nil : ProgressDisplay()
        host.progress = display
        try host.runScript(at: script.file, arguments: scriptArguments)
        try host.runDeclarations()
    }
}
