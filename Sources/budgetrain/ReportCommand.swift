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
            are merged. A \
            search's folder gets its rungs, survivors, winner and compute; experiments with \
            targets (declared, or --targets) get steps and seconds to each target and \
            performance profiles across them.

            Examples:
              budgetrain report runs/fmnist
              budgetrain report machine-a/fmnist machine-b/fmnist --out merged
              budgetrain report runs/fmnist --targets 0.85,0.88
            """)

    @Argument(help: ArgumentHelp("Results folders (each holding a results.csv).", valueName: "dir"))
    var directories: [String]

    @Option(help: ArgumentHelp("Where to write summary.md and report.html (default: the first folder).", valueName: "dir"))
    var out: String?

    @Option(help: ArgumentHelp("Target test accuracies, comma-separated (default: each experiment's own targets).", valueName: "a,b"))
    var targets: String?

    /// `--targets` as numbers.
    var targetValues: [Double]? {
        targets.map { $0.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) } }
    }

    func validate() throws {
        guard !directories.isEmpty else { throw ValidationError("give at least one results folder") }
        for d in directories where !FileManager.default.fileExists(atPath: d + "/results.csv")
            && !FileManager.default.fileExists(atPath: d + "/sweep.json") {
            throw ValidationError("\(d): no results.csv or sweep.json in this folder")
        }
        if let targets, let values = targetValues,
           values.count != targets.split(separator: ",").count || values.contains(where: { !($0 > 0 && $0 <= 1) }) {
            throw ValidationError("--targets must be test accuracies in (0, 1], comma-separated, got '\(targets)'")
        }
    }

    func run() throws {
        for d in directories { try ResultsTable.gather(directory: d) }
        let output = out ?? directories[0]
        let summary = try ExperimentReport.write(directories: directories, to: output, targets: targetValues)
        print(summary)
        print("Wrote \(output)/summary.md and \(output)/report.html")
    }
}
