import BudgetEngine
import Foundation

/// Successive halving or Hyperband simulated on a finished grid: the search is carried out as
/// `SearchStructure` says, but each (configuration, rung) it would train is looked up in the
/// grid's results at the rung's budget instead of trained, so the grid answers what the search
/// would have chosen, at what compute, and how far its choice falls short of the best
/// configuration at the full budget.
///
/// The grid must hold every rung's budget, `reference · η^−k` for `k = 0 … s_max`, where
/// `s_max = ⌊log_η(reference / minimum)⌋`. A configuration's metric at a rung is its mean test
/// accuracy over seeds (status `ok`); one with none ranks last. A trained (configuration, rung)
/// costs what the grid spent on it: the steps, seconds and FLOPs of all its seeds' runs at that
/// budget (each rung from scratch, as the grid trained it). The full grid costs every
/// configuration's runs at the reference budget.
public struct SearchReplay: Sendable {
    public enum Method: String, Sendable, CaseIterable {
        case successiveHalving = "sh"
        case hyperband

        public var title: String { self == .hyperband ? "Hyperband" : "successive halving" }
    }

    /// Steps, seconds and FLOPs of a set of runs.
    public struct Compute: Sendable, Equatable {
        public var steps = 0
        public var seconds = 0.0
        public var flops: Double?

        public init() {}

        mutating func add(_ r: ResultRow) {
            steps += r.steps
            seconds += r.seconds
            if let f = r.flops { flops = (flops ?? 0) + f }
        }
    }

    public var schedule: String
    public var configurations: [String]
    /// The configuration the search chooses (nil: every run failed).
    public var chosen: String?
    /// Its mean accuracy at the reference budget.
    public var chosenAccuracy: Double?
    public var best: String
    public var bestAccuracy: Double
    /// `bestAccuracy − chosenAccuracy` (0 when the search finds the best).
    public var regret: Double?
    public var compute: Compute
    public var grid: Compute
    /// Rung budgets (fractions of the full budget, as in results.csv), smallest first.
    public var rungBudgets: [Double]
    public var outcome: SearchStructure.Outcome

    /// Replays the search over the configurations of `schedule` in `rows`.
    public init(rows: [ResultRow], schedule: String, method: Method, eta: Int, minimum: Double, reference: Double, seed: UInt64 = 0) throws {
        let mine = rows.filter { $0.schedule == schedule }
        let severalExperiments = Set(mine.map(\.experiment)).count > 1
        func key(_ r: ResultRow) -> String {
            let name = RankBootstrap.configurationWithinSchedule(r)
            return severalExperiments ? r.experiment + " " + name : name
        }
        let names = Array(Set(mine.map(key))).sorted()
        guard names.count >= 2 else {
            throw EngineError.invalidArgument("replay: schedule '\(schedule)' has \(names.count) configuration(s); a search needs at least two")
        }
        guard minimum > 0, reference > minimum else {
            throw EngineError.invalidArgument("replay: the minimum budget (\(minimum.formatted)) must be positive and below the reference (\(reference.formatted))")
        }
        let sMax = SearchStructure.maxHalvings(eta: eta, ratio: reference / minimum)
        guard sMax >= 1 else {
            throw EngineError.invalidArgument("replay: budgets \(minimum.formatted) and \(reference.formatted) are less than η = \(eta) apart: no rung to halve at")
        }
        let structure = try SearchStructure(configurationCount: names.count, eta: eta, maxHalvings: sMax, hyperband: method == .hyperband, seed: seed)
        let budgets = Array(Set(mine.map(\.budget))).sorted()
        func gridBudget(_ fraction: Double) throws -> Double {
            let wanted = reference * fraction
            guard let b = budgets.first(where: { abs($0 - wanted) <= 1e-6 * wanted }) else {
                throw EngineError.invalidArgument("replay: schedule '\(schedule)' has no runs at budget \(String(format: "%.6g", wanted)) (a rung with η = \(eta) between \(minimum.formatted) and \(reference.formatted)); the grid has \(budgets.map { String(format: "%.6g", $0) }.joined(separator: ", "))")
            }
            return b
        }
        var byCell: [String: [ResultRow]] = [:]
        for r in mine { byCell[key(r) + "\u{1}" + String(r.budget), default: []].append(r) }
        func cell(_ name: String, _ budget: Double) -> [ResultRow] { byCell[name + "\u{1}" + String(budget)] ?? [] }
        func accuracy(_ runs: [ResultRow]) -> Double? {
            let values = runs.filter { $0.status == .ok }.compactMap(\.testAccuracy).filter(\.isFinite)
            return values.isEmpty ? nil : values.mean
        }

        let rungBudgets = try Set(structure.brackets.flatMap(\.rungs).map(\.fraction)).sorted().map(gridBudget)
        var compute = Compute()
        outcome = try structure.run { _, rung, trained in
            let budget = try gridBudget(rung.fraction)
            var metrics: [Int: Double] = [:]
            for index in trained {
                let runs = cell(names[index], budget)
                for r in runs { compute.add(r) }
                metrics[index] = accuracy(runs) ?? .nan
            }
            return metrics
        }
        let referenceBudget = try gridBudget(1)
        var grid = Compute()
        var bestName = names[0], bestValue = -Double.infinity
        for name in names {
            let runs = cell(name, referenceBudget)
            for r in runs { grid.add(r) }
            if let a = accuracy(runs), a > bestValue { (bestName, bestValue) = (name, a) }
        }
        self.schedule = schedule
        configurations = names
        chosen = outcome.winner.map { names[$0] }
        chosenAccuracy = chosen.flatMap { accuracy(cell($0, referenceBudget)) }
        best = bestName
        bestAccuracy = bestValue
        regret = chosenAccuracy.map { bestValue - $0 }
        self.compute = compute
        self.grid = grid
        self.rungBudgets = rungBudgets
    }
}
