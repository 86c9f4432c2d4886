import ArgumentParser
import BudgetEngine
import BudgetExperiments
import Foundation

/// `budgetrain status DIR [--watch]`: where a sweep stands, from its folder (and Slurm's
/// commands, when the sweep was submitted to Slurm and they are here).
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show a sweep's runs: done, running (with step, ETA and heartbeat age), stopped, failed, pending.",
        discussion: """
            Reads the experiment folder only (each run's record, heartbeat and checkpoint), so \\
            it works the same for a local --jobs sweep and for shards on a cluster. For a sweep \\
            submitted with `budgetrain submit --slurm`, the array job's states from squeue follow.

            Examples:
              budgetrain status runs/budgeted-training
              budgetrain status runs/budgeted-training --watch
            """)

    @Argument(help: ArgumentHelp("Experiment folders (each holding a sweep.json).", valueName: "dir"))
    var directories: [String]

    @Flag(help: "Redraw every --interval seconds until every run is done (Ctrl-C stops watching).")
    var watch = false

    @Option(help: "Seconds between redraws with --watch.")
    var interval: Double = 2

    func validate() throws {
        guard !directories.isEmpty else { throw ValidationError("give at least one experiment folder") }
        guard interval >= 0.2, interval <= 3600 else { throw ValidationError("--interval must be between 0.2 and 3600 seconds, got \(interval)") }
    }

    func run() throws {
        while true {
            var text: [String] = []
            var done = true
            for d in directories {
                let status = try SweepStatus(directory: d)
                done = done && status.isDone
                text.append(status.text())
                if let jobs = SlurmJobs.read(directory: d), let states = jobs.queueStates() { text.append(states) }
            }
            if watch { print("\u{1B}[H\u{1B}[2J", terminator: "") }
            print(text.joined(separator: "\n"))
            fflush(stdout)
            guard watch, !done else { return }
            usleep(UInt32(interval * 1_000_000))
        }
    }
}
