import BudgetEngine
import Foundation

/// Mean and sample standard deviation of a metric over the seeds of one schedule × budget.
public struct CellStatistics: Sendable {
    public var mean: Double
    public var std: Double
    /// Runs that finished with status `ok` and contributed a value.
    public var count: Int
    /// Runs that diverged or failed (they contribute no value).
    public var unfinished: Int
}

/// The paper-style tables of an experiment: schedules as rows, budgets as columns.
public struct ExperimentSummary: Sendable {
    public var experiment: String
    /// Configurations (a schedule, plus the values of any other varied field) in the order
    /// they first appear in the results.
    public var schedules: [String]
    /// Budget fractions, ascending.
    public var budgets: [Double]
    /// Statistics by schedule, then budget; absent where no run of that cell is recorded.
    public var accuracy: [String: [Double: CellStatistics]]
    public var gradNorm: [String: [Double: CellStatistics]]
    /// Steps of the runs that ended, and how many of them trunks trained (`TrunkPlan`).
    public var steps = (total: 0, shared: 0, branched: 0)
    /// Each schedule at its best learning rate, when the experiment varied `lr`.
    public var bestRate: BestRateTable?
    /// Test accuracy of the runs' weight averages (`average = ...`), where they had one.
    public var averagedAccuracy: [String: [Double: CellStatistics]]

    /// Groups rows of one experiment. Configurations are listed in the order of
    /// `scheduleOrder` (the order the experiment declared its schedules), then as they first
    /// appear in the rows.
    public init(experiment: String, rows: [ResultRow], scheduleOrder: [String] = []) {
        self.experiment = experiment
        let mine = rows.filter { $0.experiment == experiment }
        var schedules: [String] = []
        for r in mine where !schedules.contains(r.configuration) { schedules.append(r.configuration) }
        let rank = Dictionary(scheduleOrder.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        let scheduleOf = Dictionary(mine.map { ($0.configuration, $0.schedule) }, uniquingKeysWith: { a, _ in a })
        let appearance = Dictionary(schedules.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        schedules.sort { a, b in
            let ra = scheduleOf[a].flatMap { rank[$0] } ?? Int.max, rb = scheduleOf[b].flatMap { rank[$0] } ?? Int.max
            return ra != rb ? ra < rb : (appearance[a] ?? 0) < (appearance[b] ?? 0)
        }
        self.schedules = schedules
        let budgets = Array(Set(mine.map(\.budget))).sorted()
        self.budgets = budgets
        func statistics(_ value: (ResultRow) -> Double?) -> [String: [Double: CellStatistics]] {
            var out: [String: [Double: CellStatistics]] = [:]
            for s in schedules {
                for b in budgets {
                    let group = mine.filter { $0.configuration == s && $0.budget == b }
                    guard !group.isEmpty else { continue }
                    let values = group.filter { $0.status == .ok }.compactMap(value).filter(\.isFinite)
                    let unfinished = group.filter { $0.status != .ok }.count
                    out[s, default: [:]][b] = CellStatistics(mean: values.mean, std: values.sampleStd, count: values.count, unfinished: unfinished)
                }
            }
            return out
        }
        accuracy = statistics(\.testAccuracy)
        gradNorm = statistics(\.gradNorm)
        let finished = mine.filter { $0.status != .failed }
        steps = (finished.reduce(0) { $0 + $1.steps }, finished.compactMap(\.trunkSteps).reduce(0, +),
                 finished.filter { ($0.trunkSteps ?? 0) > 0 }.count)
        bestRate = BestRateTable(experiment: experiment, rows: mine, order: schedules)
        averagedAccuracy = statistics(\.avgTestAccuracy)
    }

    /// Whether any run measured a weight average.
    public var hasAveragedAccuracy: Bool { averagedAccuracy.values.contains { $0.values.contains { $0.count > 0 } } }

    /// Experiments named in `rows`, in order of appearance.
    public static func experiments(in rows: [ResultRow]) -> [String] {
        var names: [String] = []
        for r in rows where !names.contains(r.experiment) { names.append(r.experiment) }
        return names
    }

    /// The best schedule of each budget by mean accuracy.
    public var bestByBudget: [Double: String] { bestByBudget(in: accuracy) }

    /// The best schedule of each budget by the mean of `stats` (accuracies).
    public func bestByBudget(in stats: [String: [Double: CellStatistics]]) -> [Double: String] {
        var best: [Double: String] = [:]
        for b in budgets {
            let candidates = schedules.compactMap { s in stats[s]?[b].flatMap { $0.count > 0 ? (s, $0.mean) : nil } }
            best[b] = candidates.max { $0.1 < $1.1 }?.0
        }
        return best
    }

    /// Markdown: test accuracy (%) mean ± std per schedule × budget, the best of each budget in
    /// bold; then the final gradient norms when a probe measured them.
    /// How much training shared trunks saved, e.g. `Shared trunks: 12 runs continued from a
    /// trunk; 2,310 steps trained instead of 4,690 (51% saved).` (nil when none did).
    public var trunkLine: String? {
        guard steps.shared > 0 else { return nil }
        return "Shared trunks: \(steps.branched) runs continued from a trunk; \(steps.total - steps.shared) steps trained instead of \(steps.total)"
            + String(format: " (%.0f%% saved).", 100 * Double(steps.shared) / Double(max(steps.total, 1)))
    }

    public func markdown() -> String {
        var out = "## \(experiment)\n\nTest accuracy (%), mean ± std over seeds; budgets as fractions of the full budget; best per budget in bold.\n\n"
        out += table(accuracy, scale: 100, digits: 2, bold: bestByBudget)
        if let trunkLine { out += "\n" + trunkLine + "\n" }
        if hasAveragedAccuracy {
            out += "\nTest accuracy (%) of the averaged model (the run's weight average, BatchNorm statistics recomputed), mean ± std.\n\n"
            out += table(averagedAccuracy, scale: 100, digits: 2, bold: bestByBudget(in: averagedAccuracy))
        }
        if gradNorm.values.contains(where: { $0.values.contains { $0.count > 0 } }) {
            out += "\nFull-batch gradient norm at the end of training (budgeted convergence), mean ± std.\n\n"
            out += table(gradNorm, scale: 1, digits: 4, bold: [:])
        }
        if let bestRate { out += "\n" + bestRate.markdown() }
        return out
    }

    private func table(_ stats: [String: [Double: CellStatistics]], scale: Double, digits: Int, bold: [Double: String]) -> String {
        var out = "| schedule | " + budgets.map { "\($0.formatted)" }.joined(separator: " | ") + " |\n"
        out += "|---|" + budgets.map { _ in "---:" }.joined(separator: "|") + "|\n"
        for s in schedules {
            out += "| \(s) |"
            for b in budgets {
                guard let c = stats[s]?[b] else { out += " |"; continue }
                var text = c.count == 0 ? "–" : String(format: "%.\(digits)f", c.mean * scale)
                if c.count > 1 { text += String(format: " ± %.\(digits)f", c.std * scale) }
                if bold[b] == s { text = "**\(text)**" }
                if c.unfinished > 0 { text += " (\(c.unfinished) diverged/failed)" }
                out += " \(text) |"
            }
            out += "\n"
        }
        return out
    }
}

extension Array where Element == Double {
    var mean: Double { isEmpty ? .nan : reduce(0, +) / Double(count) }
    var sampleStd: Double {
        guard count > 1 else { return 0 }
        let m = mean
        return (map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(count - 1)).squareRoot()
    }
}

extension ResultRow {
    /// The schedule and the values of any other varied field, e.g. `linear width=64`: what
    /// the seeds of one table cell share (a search's bracket and rung are not part of it).
    public var configuration: String {
        ([schedule] + variedFields.map { "\($0.key)=\($0.value)" }).joined(separator: " ")
    }
}
