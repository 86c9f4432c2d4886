import BudgetEngine
import Foundation

/// A budget in a grid: a fraction of the experiment's full budget, or an absolute one.
public enum BudgetEntry: Sendable, Equatable {
    case fraction(Double)
    case absolute(Budget)

    /// The budget this entry stands for, given the full budget.
    public func resolve(full: Budget) -> Budget {
        switch self {
        case let .fraction(f): return full.scaled(by: f)
        case let .absolute(b): return b
        }
    }

    /// How the entry reads in run names: `0.25` or `500it`, `2ep`, `30s`.
    public var label: String {
        switch self {
        case let .fraction(f): return f.formatted
        case let .absolute(.iterations(n)): return "\(n)it"
        case let .absolute(.epochs(e)): return "\(e.formatted)ep"
        case let .absolute(.seconds(s)): return "\(s.formatted)s"
        case let .absolute(.examples(n)): return "\(n.formatted)ex"
        case let .absolute(.flops(f)): return String(format: "%gflops", f)
        }
    }
}

/// One run of a grid: a schedule, a budget, a seed, and the values of any other varied field.
public struct ExperimentCell: Sendable, Equatable {
    /// Unique within the experiment, also the run's folder name, e.g. `linear-b0.25-s1`.
    public var run: String
    public var schedule: String
    public var budget: BudgetEntry
    public var seed: UInt64
    /// Other varied fields and their values (as text), in the order they were declared.
    public var extras: [(name: String, value: String)]

    public init(run: String, schedule: String, budget: BudgetEntry, seed: UInt64, extras: [(name: String, value: String)] = []) {
        self.run = run
        self.schedule = schedule
        self.budget = budget
        self.seed = seed
        self.extras = extras
    }

    public static func == (a: ExperimentCell, b: ExperimentCell) -> Bool {
        a.run == b.run && a.schedule == b.schedule && a.budget == b.budget && a.seed == b.seed
            && a.extras.map(\.name) == b.extras.map(\.name) && a.extras.map(\.value) == b.extras.map(\.value)
    }
}

/// An experiment: schedules × budgets × seeds (× other varied fields), each cell a fresh run.
public struct ExperimentPlan: Sendable {
    public var name: String
    public var fullBudget: Budget
    public var cells: [ExperimentCell]
    /// Names of the extra varied fields, in declaration order (extra results.csv columns).
    public var extraFields: [String]

    /// The full grid, in a stable order: extra fields outermost, then budgets, schedules, seeds
    /// (so the small, quick budgets finish first and a partial sweep is already useful).
    public init(
        name: String, fullBudget: Budget, budgets: [BudgetEntry], schedules: [String], seeds: [UInt64],
        extraFields: [(name: String, values: [String])] = []
    ) throws {
        guard !name.isEmpty, !name.contains("/") else {
            throw EngineError.invalidArgument("experiment: name must be non-empty and contain no '/', got '\(name)'")
        }
        guard !budgets.isEmpty else { throw EngineError.invalidArgument("experiment '\(name)': budgets is empty") }
        guard !schedules.isEmpty else { throw EngineError.invalidArgument("experiment '\(name)': schedules is empty") }
        guard !seeds.isEmpty else { throw EngineError.invalidArgument("experiment '\(name)': seeds is empty") }
        try fullBudget.validate()
        for b in budgets {
            if case let .fraction(f) = b, !(f > 0 && f <= 1000) {
                throw EngineError.invalidArgument("experiment '\(name)': budget fractions must be in (0, 1000], got \(f)")
            }
            try b.resolve(full: fullBudget).validate()
        }
        self.name = name
        self.fullBudget = fullBudget
        self.extraFields = extraFields.map(\.name)

        var combos: [[(name: String, value: String)]] = [[]]
        for field in extraFields {
            combos = combos.flatMap { prefix in field.values.map { prefix + [(field.name, $0)] } }
        }
        var cells: [ExperimentCell] = []
        var seen = Set<String>()
        for extras in combos {
            for budget in budgets {
                for schedule in schedules {
                    for seed in seeds {
                        let extraPart = extras.map { "-\($0.name)=\($0.value)" }.joined()
                        let run = "\(schedule)-b\(budget.label)-s\(seed)\(extraPart)"
                        guard seen.insert(run).inserted else {
                            throw EngineError.invalidArgument("experiment '\(name)': run '\(run)' appears twice (repeated budget, schedule or seed?)")
                        }
                        cells.append(ExperimentCell(run: run, schedule: schedule, budget: budget, seed: seed, extras: extras))
                    }
                }
            }
        }
        self.cells = cells
    }
}

extension ExperimentPlan {
    /// The cells of part `index` (0-based) of `count` disjoint parts, balanced by expected cost:
    /// longest unit first, each to the part with the least cost so far (ties to the lower part),
    /// a run's cost being its budget as a fraction of the full budget (a 100% run costs 20
    /// times a 5% one). Cells with the same `unit` (a trunk and its branches) go to one part.
    /// The assignment depends on the plan alone, so every process computes the same parts;
    /// each part keeps the plan's order.
    public func shard(_ index: Int, of count: Int, unit: (ExperimentCell) -> String = { $0.run }) -> [ExperimentCell] {
        guard count > 1 else { return cells }
        var units: [String: Double] = [:]
        var firstIndex: [String: Int] = [:]
        for (i, cell) in cells.enumerated() {
            let u = unit(cell)
            units[u, default: 0] += cost(of: cell)
            if firstIndex[u] == nil { firstIndex[u] = i }
        }
        let byCost = units.keys.sorted { a, b in
            let (ca, cb) = (units[a] ?? 0, units[b] ?? 0)
            return ca != cb ? ca > cb : (firstIndex[a] ?? 0) < (firstIndex[b] ?? 0)
        }
        var load = [Double](repeating: 0, count: count)
        var owner: [String: Int] = [:]
        for u in byCost {
            var best = 0
            for part in 1..<count where load[part] < load[best] { best = part }
            owner[u] = best
            load[best] += units[u] ?? 0
        }
        return cells.filter { owner[unit($0)] == index }
    }

    /// A cell's expected cost relative to a run of the full budget.
    func cost(of cell: ExperimentCell) -> Double {
        switch (cell.budget, fullBudget) {
        case let (.fraction(f), _): return f
        case let (.absolute(.epochs(e)), .epochs(full)): return e / full
        case let (.absolute(.iterations(n)), .iterations(full)): return Double(n) / Double(full)
        case let (.absolute(.seconds(s)), .seconds(full)): return s / full
        default: return 1
        }
    }
}
