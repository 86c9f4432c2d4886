import ArgumentParser
import BudgetEngine
import BudgetExperiments
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
              budgetrain run exp.lua --jobs 2 --run-timeout 3600
              budgetrain run exp.lua --shard 0/4 --resume   # part 0 of 4 (e.g. a Slurm array task)
              budgetrain run exp.lua --seed 3 --threads 2 -- --quick
            """)

    @OptionGroup var script: ScriptArguments

    @Option(help: ArgumentHelp("Directory for experiment results: <dir>/<experiment>/.", valueName: "dir"))
    var out: String = "runs"

    @Option(help: "Threads for BLAS and the engine's loops, in all (default: the number of cores).")
    var threads: Int?

    @Option(help: "Runs at once in experiment sweeps (this process and jobs - 1 workers), each with threads / jobs threads. Results equal --jobs 1 run with the same threads per run.")
    var jobs: Int = 1

    @Flag(help: "Continue experiments in their results folders: finished runs are kept, unfinished ones continue from their checkpoints, failed ones are tried again; train{} calls with a checkpoint continue from it.")
    var resume = false

    @Flag(help: "Show no progress bar or progress lines.")
    var quiet = false

    @Option(help: ArgumentHelp("Train part K (from 0) of N disjoint parts of every experiment's grid, balanced by expected cost (a Slurm array task's part: --shard $SLURM_ARRAY_TASK_ID/N). Shards write only their runs' folders; `budgetrain report DIR` gathers results.csv and the report.", valueName: "K/N"))
    var shard: String?

    @Option(help: ArgumentHelp("Bound each run of a sweep to this many seconds; every run then trains in a worker process, which is stopped when its time is up (the run is tried once more from its checkpoint, then recorded failed).", valueName: "seconds"))
    var runTimeout: Double?

    @Option(help: ArgumentHelp("Seconds a worker may go without a sign of life (it sends one at least every second while it trains) before it is killed and its run retried.", valueName: "seconds"))
    var heartbeatTimeout: Double = WorkerPool.defaultHeartbeatTimeout

    /// Set on the worker processes of a `--jobs` sweep: run the script, then serve runs.
    @Flag(help: .hidden)
    var worker = false

    @Argument(parsing: .postTerminator, help: .scriptArguments)
    var scriptArguments: [String] = []

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
        if jobs < 1 { throw ValidationError("--jobs must be at least 1, got \(jobs)") }
        if let runTimeout, !(runTimeout >= 1 && runTimeout.isFinite) { throw ValidationError("--run-timeout must be at least 1 second, got \(runTimeout)") }
        if !(heartbeatTimeout >= 1 && heartbeatTimeout.isFinite) { throw ValidationError("--heartbeat-timeout must be at least 1 second, got \(heartbeatTimeout)") }
        if let shard { do { _ = try Shard(parsing: shard) } catch { throw ValidationError("\(error)") } }
    }

    func run() throws {
        StopSignals.install(announce: !worker)
        let total = threads ?? ThreadCount.default
        let perProcess = worker ? total : max(1, total / jobs)
        // The parent keeps every thread for what it trains itself (train{} calls, a sweep's
        // last run); each worker gets its share.
        BLASLibrary.setThreads(worker ? perProcess : total)
        var options = script.hostOptions(mode: .run, outputDirectory: out)
        options.sweep.resume = resume
        options.sweep.jobs = jobs
        options.sweep.threadsPerRun = perProcess
        options.sweep.runTimeout = runTimeout
        options.sweep.heartbeatTimeout = heartbeatTimeout
        options.sweep.shard = try shard.map { try Shard(parsing: $0) }
        options.sweep.workerArguments = ["run", script.file, "--worker", "--quiet", "--threads", String(perProcess),
                                         "--seed", String(script.seed), "--out", out, "--"] + scriptArguments
        let host = try ScriptHost(options: options)
        host.progress = quiet || worker ? nil : ProgressDisplay()
        guard worker else {
            try host.runScript(at: script.file, arguments: scriptArguments)
            try host.runDeclarations()
            return
        }
        // The parent has shown what the script prints at its top level already.
        try StandardOutput.silenced { try host.runScript(at: script.file, arguments: scriptArguments) }
        WorkerService.serve { experiment, run, heartbeat in
            defer { host.collectGarbage() }
            guard let declaration = host.declarations.first(where: { $0.label == experiment }) as? CellServing else {
                var row = ExperimentRunner.row(for: ExperimentCell(run: run, schedule: "", budget: .fraction(0), seed: 0), experiment: experiment)
                row.extras["message"] = "the script no longer declares experiment '\(experiment)'"
                return row
            }
            return declaration.runCell(named: run, observer: heartbeat, directory: out + "/" + SafeName.folder(for: experiment))
        }
    }
}

/// The process's standard output, redirected for a while.
enum StandardOutput {
    /// Runs `body` with standard output going to /dev/null.
    static func silenced<T>(_ body: () throws -> T) throws -> T {
        fflush(stdout)
        let saved = dup(STDOUT_FILENO)
        let null = open("/dev/null", O_WRONLY)
        guard saved >= 0, null >= 0 else { return try body() }
        dup2(null, STDOUT_FILENO)
        close(null)
        defer {
            fflush(stdout)
            dup2(saved, STDOUT_FILENO)
            close(saved)
        }
        return try body()
    }
}
