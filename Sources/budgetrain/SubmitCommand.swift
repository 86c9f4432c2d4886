import ArgumentParser
import BudgetEngine
import BudgetExperiments
import Foundation
import LuaHost

/// `budgetrain submit exp.lua --slurm`: the script's experiments as a Slurm array job.
struct SubmitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Submit a script's experiments to a cluster scheduler (Slurm) as an array job, one shard per task.",
        discussion: """
            Checks the script (as `budgetrain check` does), writes <out>/<experiment>/slurm/ \\
            sweep.sbatch (array task K runs `budgetrain run --shard K/N --resume`) and \\
            report.sbatch (gathers results.csv and the report once every task has ended), \\
            submits both with sbatch, and prints their job ids. The binary, the script, the \\
            data and --out must be on a file system every node sees. A task stopped by \\
            preemption or by its time limit (Slurm sends SIGTERM --grace seconds before) \\
            checkpoints and is requeued; it continues from its checkpoints. SBATCH_* \\
            variables and the site's defaults apply to every option not given here.

            Examples:
              budgetrain submit exp.lua --slurm --tasks 16 --cpus-per-task 4 --time 2:00:00
              budgetrain submit exp.lua --slurm --tasks 16 --dry-run
              budgetrain submit exp.lua --slurm --tasks 16 --resume     # finish what did not
            """)

    @OptionGroup var script: ScriptArguments

    @Flag(help: "Submit to Slurm (sbatch); the only scheduler budgetrain submits to so far.")
    var slurm = false

    @Option(help: ArgumentHelp("Directory for experiment results: <dir>/<experiment>/.", valueName: "dir"))
    var out: String = "runs"

    @Option(help: "Array tasks (shards); default: the number of runs, at most 32.")
    var tasks: Int?

    @Option(help: "CPUs per task; each run trains with this many threads (default: the site's, read at run time).")
    var cpusPerTask: Int?

    @Option(help: "Time limit per task (Slurm's format, e.g. 2:00:00).")
    var time: String?

    @Option(help: "Partition.")
    var partition: String?

    @Option(help: "Memory per task (Slurm's format, e.g. 8G).")
    var mem: String?

    @Option(help: ArgumentHelp("Another sbatch option for both jobs, e.g. --sbatch-arg=--account=proj (repeatable).", valueName: "arg"))
    var sbatchArg: [String] = []

    @Option(help: "Seconds before the time limit at which Slurm sends SIGTERM, so each task checkpoints in time.")
    var grace: Int = 120

    @Flag(help: "Print the job scripts and submit nothing.")
    var dryRun = false

    @Flag(help: "Submit again a sweep that did not finish: finished runs are kept, the rest continue from their checkpoints.")
    var resume = false

    @Argument(parsing: .postTerminator, help: .scriptArguments)
    var scriptArguments: [String] = []

    func validate() throws {
        guard slurm else { throw ValidationError("say which scheduler: --slurm") }
        if let tasks, !(1...100_000).contains(tasks) { throw ValidationError("--tasks must be between 1 and 100000, got \(tasks)") }
        if let cpusPerTask, !(1...4096).contains(cpusPerTask) { throw ValidationError("--cpus-per-task must be between 1 and 4096, got \(cpusPerTask)") }
        guard (1...86_400).contains(grace) else { throw ValidationError("--grace must be between 1 and 86400 seconds, got \(grace)") }
        for arg in sbatchArg where arg.contains("\n") { throw ValidationError("--sbatch-arg may not contain a newline") }
    }

    func run() throws {
        BLASLibrary.setThreads(1)
        let host = try ScriptHost(options: script.hostOptions(mode: .check, outputDirectory: out))
        // What the script prints is for its runs, not for the submission.
        try StandardOutput.silenced {
            try host.runScript(at: script.file, arguments: scriptArguments)
            try host.runDeclarations()
        }
        let experiments = host.declarations.compactMap { $0 as? ExperimentDeclaration }
        guard let first = experiments.first else {
            throw CommandFailure(message: "\(script.file) declares no experiment{}; nothing to submit", status: ExitStatus.usageOrScriptError)
        }
        let cwd = FileManager.default.currentDirectoryPath
        func absolute(_ path: String) -> String { path.hasPrefix("/") ? path : cwd + "/" + path }
        let outDirectory = absolute(out)
        let directories = experiments.map { outDirectory + "/" + SafeName.folder(for: $0.plan.name) }
        if !resume {
            for d in directories where FileManager.default.fileExists(atPath: d + "/sweep.json") {
                throw CommandFailure(message: "\(d) already holds a sweep; pass --resume to finish it, or --out to write elsewhere", status: ExitStatus.usageOrScriptError)
            }
        }
        let runs = experiments.map(\.plan.cells.count).max() ?? 1
        var submission = SlurmSubmission(
            budgetrain: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0],
            workingDirectory: cwd, script: absolute(script.file), scriptArguments: scriptArguments,
            outputDirectory: outDirectory, experimentDirectories: directories, name: first.plan.name,
            tasks: tasks ?? min(runs, 32))
        submission.seed = script.seed
        submission.cpusPerTask = cpusPerTask
        submission.time = time
        submission.partition = partition
        submission.memory = mem
        submission.extraArguments = sbatchArg
        submission.grace = grace

        let sweepPath = submission.slurmDirectory + "/sweep.sbatch", reportPath = submission.slurmDirectory + "/report.sbatch"
        if dryRun {
            print("# \(sweepPath)\n" + submission.sweepScript())
            print("# \(reportPath)\n" + submission.reportScript())
            return
        }
        try AtomicFile.write(submission.sweepScript(), to: sweepPath)
        try AtomicFile.write(submission.reportScript(), to: reportPath)
        let array = try Slurm.submit(sweepPath)
        let report = try Slurm.submit(reportPath, arguments: ["--dependency=afterany:\(array)"])
        try SlurmJobs(array: array, report: report).write(to: directories[0])
        print("Submitted the sweep as array job \(array) (\(submission.tasks) tasks) and its report as job \(report).")
        print("Watch it:  budgetrain status \(directories.joined(separator: " ")) --watch")
        print("Logs:      \(submission.slurmDirectory)/")
    }
}
