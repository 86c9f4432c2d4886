import ArgumentParser
import BudgetEngine
import BudgetExperiments
import Foundation

/// `budgetrain report DIR...`: rebuilds summary.md and report.html from results folders.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Rebuild summary.md and report.html from experiment results (merging several folders).",
        discussion: """
            Rebuilds each folder's results.csv from its runs' records (so the runs of every \
            shard of a sweep come together), then reads it and the runs' metrics.jsonl. With \
            several folders (e.g. the same experiment run on several machines) their results \
            are merged.

            Examples:
              budgetrain report runs/fmnist
              budgetrain report machine-a/fmnist machine-b/fmnist --out merged
            """)

    @Argument(help: ArgumentHelp("Results folders (each holding a results.csv).", valueName: "dir"))
    var directories: [String]

    @Option(help: ArgumentHelp("Where to write summary.md and report.html (default: the first folder).", valueName: "dir"))
    var out: String?

    func validate() throws {
        guard !directories.isEmpty else { throw ValidationError("give at least one results folder") }
        for d in directories where !FileManager.default.fileExists(atPath: d + "/results.csv")
            && !FileManager.default.fileExists(atPath: d + "/sweep.json") {
            throw ValidationError("\(d): no results.csv or sweep.json in this folder")
        }
    }

    func run() throws {
        for d in directories { try ResultsTable.gather(directory: d) }
        let output = out ?? directories[0]
        let summary = try ExperimentReport.write(directories: directories, to: output)
        print(summary)
        print("Wrote \(output)/summary.md and \(output)/report.html")
    }
}
