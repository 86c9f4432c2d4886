import ArgumentParser
import BudgetEngine
import BudgetExperiments
import Foundation
import LuaHost

/// `budgetrain run exp.lua`: runs the script (its `train{}` calls train as they come), then
/// every experiment it declared.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a Lua script: train what it asks for.",
        discussion: """
            train{} calls train as the script reaches them; experiment{} grids run after the \
            script returns, writing <out>/<name>/ (results.csv, per-run metrics.jsonl, \
            config.lua, config.json, summary.md, report.html).

            Examples:
              budgetrain run examples/quickstart.lua
              budgetrain run examples/budgeted_training.lua --jobs 2
              budgetrain run exp.lua --resume            # finish an interrupted sweep
              budgetrain run exp.lua --seed 3 --threads 2 -- --quick
            """)

    @OptionGroup var script: ScriptArguments

    @Option(help: ArgumentHelp("Directory for experiment results: <dir>/<experiment>/.", valueName: "dir"))
    var out: String = "runs"

    @Option(help: "Threads for BLAS and the engine's loops, in all (default: the number of cores).")
    var threads: Int?

    @Option(help: "Runs at once in experiment sweeps (this process and jobs - 1 workers), each with threads / jobs threads. Results equal --jobs 1 run with the same threads per run.")
    var jobs: Int = 1

    @Flag(help: "Continue experiments in their results folders: skip finished runs, rerun unfinished ones.")
    var resume = false

    @Flag(help: "Show no progress bar or progress lines.")
    var quiet = false

    /// Set on the worker processes of a `--jobs` sweep: run the script, then serve runs.
    @Flag(help: .hidden)
    var worker = false

    @Argument(parsing: .postTerminator, help: .scriptArguments)
    var scriptArguments: [String] = []

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
        if jobs < 1 { throw ValidationError("--jobs must be at least 1, got \(jobs)") }
    }

    func run() throws {
        let total = threads ?? ThreadCount.default
        let perProcess = worker ? total : max(1, total / jobs)
        // The parent keeps every thread for what it trains itself (train{} calls, a sweep's
        // last run); each worker gets its share.
        BLASLibrary.setThreads(worker ? perProcess : total)
        var options = script.hostOptions(mode: .run, outputDirectory: out)
        options.resume = resume
        options.jobs = jobs
        options.threads = perProcess
        options.workerArguments = ["run", script.file, "--worker", "--quiet", "--threads", String(perProcess),
                                   "--seed", String(script.seed), "--out", out, "--"] + scriptArguments
        let host = try ScriptHost(options: options)
        host.progress = quiet || worker ? nil : ProgressDisplay()
        try host.runScript(at: script.file, arguments: scriptArguments)
        guard worker else {
            try host.runDeclarations()
            return
        }
        WorkerPool.serveRequests { experiment, run in
            guard let declaration = host.declarations.first(where: { $0.label == experiment }) as? ExperimentDeclaration else {
                return WorkerPool.failedRow(.init(experiment: experiment, cell: ExperimentCell(run: run, schedule: "", budget: .fraction(0), seed: 0)),
                                            message: "the script no longer declares experiment '\(experiment)'")
            }
            defer { host.collectGarbage() }
            return declaration.runCell(named: run, observer: nil, directory: out + "/" + experiment)
        }
    }
}
