import ArgumentParser
import BudgetEngine
import BudgetExperiments
import Foundation

/// `budgetrain rank DIR --budget 0.25 --reference 1`: does a small budget rank configurations
/// as the full one does? With bootstrap intervals over seeds, a table per schedule, and
/// `--replay sh|hyperband` the search simulated on the grid's own results.
struct RankCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rank",
        abstract: "Rank correlation (Kendall τ, Spearman ρ) of configurations between a small and a reference budget; replay a search on a grid.",
        discussion: """
            Configurations (schedule and other varied fields) are ranked by mean test accuracy \
            over seeds at each budget; only runs with status ok count. Each correlation comes \
            with a 95% percentile bootstrap interval: every resample draws each configuration's \
            seeds with replacement, independently at the two budgets (--resamples, default \
            1000, drawn from --bootstrap-seed). Then the same per schedule, over the \
            configurations of its varied fields (budget-aware against truncated, say).

            --replay sh|hyperband simulates successive halving or Hyperband (η = --eta) on the \
            grid itself, per schedule, from --budget up to --reference: each (configuration, \
            rung) it would train is looked up in the grid at the rung's budget, which must be \
            there. It reports the configuration chosen, its regret (the best accuracy at the \
            reference budget minus the chosen one's) and the compute it would have spent \
            against the full grid at the reference budget.

            Examples:
              budgetrain rank runs/fmnist --budget 0.25 --reference 1
              budgetrain rank runs/search-grid --budget 0.037037 --reference 1 --replay sh --eta 3
            """)

    @Argument(help: ArgumentHelp("Results folders (each holding a results.csv).", valueName: "dir"))
    var directories: [String]

    @Option(help: "The small budget, as a fraction of the full budget (as in results.csv); the first rung of a replay.")
    var budget: Double

    @Option(help: "The reference budget.")
    var reference: Double = 1

    @Option(help: "Bootstrap resamples for the intervals.")
    var resamples: Int = 1000

    @Option(help: "Seed of the bootstrap resamples.")
    var bootstrapSeed: UInt64 = 0

    @Option(help: ArgumentHelp("Simulate a search on the grid: sh (successive halving) or hyperband.", valueName: "method"))
    var replay: SearchReplay.Method?

    @Option(help: "The replayed search's reduction factor η.")
    var eta: Int = 3

    @Option(help: "Seed that draws which configurations each replayed Hyperband bracket starts with.")
    var seed: UInt64 = 0

    func validate() throws {
        guard !directories.isEmpty else { throw ValidationError("give at least one results folder") }
        guard budget > 0, reference > 0 else { throw ValidationError("--budget and --reference must be positive") }
        guard (1...1_000_000).contains(resamples) else { throw ValidationError("--resamples must be in 1 ... 1000000, got \(resamples)") }
        guard eta >= 2 else { throw ValidationError("--eta must be at least 2, got \(eta)") }
    }

    func run() throws {
        var rows: [ResultRow] = []
        for d in directories { rows += try ResultsTable.read(path: d + "/results.csv").rows }
        let rank = try RankCorrelation(rows: rows, budget: budget, reference: reference)
        print("configuration,accuracy_at_\(budget.formatted),accuracy_at_\(reference.formatted)")
        for c in rank.configurations.sorted(by: { $0.reference > $1.reference }) {
            print("\(c.name),\(String(format: "%.4f", c.budget)),\(String(format: "%.4f", c.reference))")
        }
        let all = try RankBootstrap.entry(
            name: "all", samples: RankBootstrap.samples(rows: rows, budget: budget, reference: reference) { $0.experiment + " " + $0.configuration },
            resamples: resamples, seed: bootstrapSeed)
        print(String(format: "kendall_tau: %.4f", rank.kendallTau) + interval(all.tauInterval))
        print(String(format: "spearman_rho: %.4f", rank.spearmanRho) + interval(all.rhoInterval))
        printPerSchedule(rows)
        if let replay { try printReplay(rows, method: replay) }
    }

    private func interval(_ i: RankBootstrap.Interval) -> String {
        i.low.isFinite ? String(format: " (95%% bootstrap interval %.4f .. %.4f, %d resamples over seeds)", i.low, i.high, resamples) : ""
    }

    private func schedules(_ rows: [ResultRow]) -> [String] {
        var names: [String] = []
        for r in rows where !names.contains(r.schedule) { names.append(r.schedule) }
        return names
    }

    /// τ and ρ within each schedule that has at least two configurations at both budgets.
    private func printPerSchedule(_ rows: [ResultRow]) {
        let several = Set(rows.map(\.experiment)).count > 1
        var lines: [String] = []
        for schedule in schedules(rows) {
            let mine = rows.filter { $0.schedule == schedule }
            let samples = RankBootstrap.samples(rows: mine, budget: budget, reference: reference) { r in
                (several ? r.experiment + " " : "") + RankBootstrap.configurationWithinSchedule(r)
            }
            guard samples.count >= 2, let e = try? RankBootstrap.entry(name: schedule, samples: samples, resamples: resamples, seed: bootstrapSeed) else { continue }
            func cell(_ x: Double, _ i: RankBootstrap.Interval) -> String {
                String(format: "%.3f [%.3f, %.3f]", x, i.low, i.high)
            }
            lines.append("| \(schedule) | \(e.configurations) | \(e.seeds) | \(cell(e.kendallTau, e.tauInterval)) | \(cell(e.spearmanRho, e.rhoInterval)) |")
        }
        guard !lines.isEmpty else { return }
        print("\nPer schedule, over the configurations of its varied fields (95% bootstrap intervals over seeds, \(resamples) resamples, seed \(bootstrapSeed)):\n")
        print("| schedule | configurations | seeds | Kendall τ | Spearman ρ |")
        print("|---|---:|---:|---|---|")
        for line in lines { print(line) }
    }

    private func printReplay(_ rows: [ResultRow], method: SearchReplay.Method) throws {
        var results: [SearchReplay] = []
        var skipped: [String] = []
        for schedule in schedules(rows) {
            do {
                results.append(try SearchReplay(rows: rows, schedule: schedule, method: method, eta: eta, minimum: budget, reference: reference, seed: seed))
            } catch let error as EngineError {
                skipped.append(error.description)
            }
        }
        guard let first = results.first else {
            throw EngineError.invalidArgument(skipped.first ?? "replay: no schedule has configurations to search")
        }
        let rungs = first.rungBudgets.map { String(format: "%.4g", $0) }.joined(separator: ", ")
        print("\nReplay: \(method.title), η = \(eta), rungs at budgets \(rungs) (each rung from scratch, as the grid trained it):\n")
        print("| schedule | configurations | chosen | its accuracy at \(reference.formatted) | best at \(reference.formatted) | regret | steps | seconds | share of the grid's steps |")
        print("|---|---:|---|---:|---|---:|---:|---:|---:|")
        for r in results {
            let chosen = r.chosen ?? "none"
            let accuracy = r.chosenAccuracy.map { String(format: "%.2f%%", 100 * $0) } ?? "–"
            let regret = r.regret.map { String(format: "%.2f points", 100 * $0) } ?? "–"
            let share = r.grid.steps > 0 ? String(format: "%.1f%%", 100 * Double(r.compute.steps) / Double(r.grid.steps)) : "–"
            print("| \(r.schedule) | \(r.configurations.count) | \(chosen) | \(accuracy) | \(r.best) (\(String(format: "%.2f%%", 100 * r.bestAccuracy))) | \(regret) | \(r.compute.steps) | \(String(format: "%.1f", r.compute.seconds)) | \(share) |")
        }
        let grid = results.map { "\($0.schedule): \($0.grid.steps) steps, \(String(format: "%.1f", $0.grid.seconds)) s" }.joined(separator: "; ")
        print("\nThe full grid at the reference budget: \(grid).")
        for s in skipped { print("(skipped: \(s))") }
    }
}

extension SearchReplay.Method: ExpressibleByArgument {}
