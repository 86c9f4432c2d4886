import ArgumentParser
import BudgetEngine
import BudgetExperiments
import Foundation

/// `budgetrain rank DIR --budget 0.25 --reference 1`: does a small budget rank configurations
/// as the full one does?
struct RankCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rank",
        abstract: "Rank correlation (Kendall τ, Spearman ρ) of configurations between a small and a reference budget.",
        discussion: """
            Configurations (schedule and other varied fields) are ranked by mean test accuracy \
            over seeds at each budget; only runs with status ok count.

            Example:
              budgetrain rank runs/fmnist --budget 0.25 --reference 1
            """)

    @Argument(help: ArgumentHelp("Results folders (each holding a results.csv).", valueName: "dir"))
    var directories: [String]

    @Option(help: "The small budget, as a fraction of the full budget (as in results.csv).")
    var budget: Double

    @Option(help: "The reference budget.")
    var reference: Double = 1

    func validate() throws {
        guard !directories.isEmpty else { throw ValidationError("give at least one results folder") }
    }

    func run() throws {
        var rows: [ResultRow] = []
        for d in directories { rows += try ResultsTable.read(path: d + "/results.csv").rows }
        let rank = try RankCorrelation(rows: rows, budget: budget, reference: reference)
        print("configuration,accuracy_at_\(budget.formatted),accuracy_at_\(reference.formatted)")
        for c in rank.configurations.sorted(by: { $0.reference > $1.reference }) {
            print("\(c.name),\(String(format: "%.4f", c.budget)),\(String(format: "%.4f", c.reference))")
        }
        print(String(format: "kendall_tau: %.4f", rank.kendallTau))
        print(String(format: "spearman_rho: %.4f", rank.spearmanRho))
    }
}
