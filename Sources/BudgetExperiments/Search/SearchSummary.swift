import BudgetEngine
import Foundation

/// What a search did, read back from its results: per bracket and rung the budget, the
/// configurations trained, the best of them and the survivors; the winner; and the compute
/// used against the full grid (every configuration at the maximum budget). Derived from
/// results.csv (each row a trained configuration at a rung: its `bracket` and `rung` columns)
/// and the search's description in config.json, so `budgetrain report` rebuilds it.
///
/// Compute counts what each run trained itself: its steps (a continuation's inherited steps
/// excluded: `continue = true` starts rung `i + 1` where rung `i` of the same configuration
/// and seed ended), its seconds and its FLOPs. The full grid is estimated from the same runs:
/// its steps as configurations × seeds × the maximum budget's steps, its seconds and FLOPs at
/// the search's own seconds and FLOPs per step.
public struct SearchSummary: Sendable {
    /// The search as config.json describes it.
    public struct Description: Sendable {
        public var method: String
        public var eta: Int
        public var schedule: String
        public var truncated: Bool
        public var continues: Bool
        public var metric: String
        public var configurations: Int
        public var seeds: Int
        /// An experiment (a grid over the same configurations, in the same results folder)
        /// to measure the winner's regret against.
        public var reference: String?

        /// Reads `config["search"]`; nil when the folder holds no search.
        public init?(config: [String: Any]) {
            guard let s = config["search"] as? [String: Any], let eta = s["eta"] as? Int else { return nil }
            method = s["method"] as? String ?? "successive halving"
            self.eta = eta
            schedule = s["schedule"] as? String ?? "?"
            truncated = s["truncated"] as? Bool ?? false
            continues = s["continue"] as? Bool ?? false
            metric = s["metric"] as? String ?? "test_accuracy"
            configurations = s["configurations"] as? Int ?? 0
            seeds = s["seeds"] as? Int ?? 1
            reference = s["reference"] as? String
        }

        public var lowerIsBetter: Bool { metric.hasSuffix("loss") }
    }

    public struct Rung: Sendable {
        public var bracket: Int
        public var rung: Int
        public var budget: Double
        public var budgetSteps: Int?
        /// Configurations trained (by name), with their metric (mean over seeds; nil: none finished).
        public var trained: [(name: String, metric: Double?)]
        /// Configurations trained at the next rung of the bracket.
        public var survivors: [String]
        public var steps: Int
        public var seconds: Double
        public var flops: Double?
    }

    public var experiment: String
    public var description: Description
    public var rungs: [Rung]
    /// The best configuration at the maximum budget, with its metric.
    public var winner: (name: String, metric: Double)?
    public var steps: Int
    public var seconds: Double
    public var flops: Double?
    public var gridSteps: Int?
    public var gridSeconds: Double?
    public var gridFLOPs: Double?
    /// Against the reference grid: its best configuration at the maximum budget, the
    /// winner's metric there, and the grid's measured compute at that budget.
    public var regret: Regret?

    public struct Regret: Sendable {
        public var grid: String
        public var best: String
        public var bestMetric: Double
        public var winnerMetric: Double?
        public var gridSteps: Int
        public var gridSeconds: Double

        /// How far the winner falls short of the grid's best (0: the search found it).
        public var regret: Double? { winnerMetric.map { abs(bestMetric - $0) } }
    }

    /// Measures the winner against the reference grid's rows (its runs at budget 1, mean over
    /// seeds; configurations matched by their varied fields, whatever the grid's schedule).
    public mutating func compare(with grid: String, rows: [ResultRow]) {
        let finals = rows.filter { abs($0.budget - 1) < 1e-9 }
        guard !finals.isEmpty else { return }
        let sign = description.lowerIsBetter ? -1.0 : 1.0
        var names: [String] = []
        for r in finals where !names.contains(RankBootstrap.configurationWithinSchedule(r)) { names.append(RankBootstrap.configurationWithinSchedule(r)) }
        func metric(_ name: String) -> Double? {
            let values = finals.filter { RankBootstrap.configurationWithinSchedule($0) == name && $0.status == .ok }
                .compactMap { $0.metric(description.metric) }.filter(\.isFinite)
            return values.isEmpty ? nil : values.mean
        }
        guard let best = Self.best(names.map { ($0, metric($0)) }, sign: sign) else { return }
        // The grid's compute for one schedule: every configuration and seed at budget 1.
        let schedule = finals[0].schedule
        let oneSchedule = finals.filter { $0.schedule == schedule }
        regret = Regret(
            grid: grid, best: best.name, bestMetric: best.metric, winnerMetric: winner.flatMap { metric($0.name) },
            gridSteps: oneSchedule.map(\.steps).reduce(0, +), gridSeconds: oneSchedule.map(\.seconds).reduce(0, +))
    }

    /// The search section of an experiment's rows; nil when the rows are not a search's.
    public init?(experiment: String, rows: [ResultRow], config: [String: Any]) {
        guard let description = Description(config: config) else { return nil }
        let mine = rows.filter { $0.experiment == experiment && $0.extras["rung"] != nil }
        guard !mine.isEmpty else { return nil }
        self.experiment = experiment
        self.description = description
        func name(_ r: ResultRow) -> String { RankBootstrap.configurationWithinSchedule(r) }
        func position(_ r: ResultRow) -> (Int, Int) { (Int(r.extras["bracket"] ?? "") ?? 0, Int(r.extras["rung"] ?? "") ?? 0) }
        // Brackets from the most halvings down, as the search ran them; rungs in order.
        let keys = Set(mine.map { position($0).0 * 1000 + position($0).1 }).sorted { a, b in
            a / 1000 != b / 1000 ? a / 1000 > b / 1000 : a % 1000 < b % 1000
        }
        var byPosition: [Int: [ResultRow]] = [:]
        for r in mine { byPosition[position(r).0 * 1000 + position(r).1, default: []].append(r) }
        let sign = description.lowerIsBetter ? -1.0 : 1.0
        func metric(_ runs: [ResultRow]) -> Double? {
            let values = runs.filter { $0.status == .ok }.compactMap { $0.metric(description.metric) }.filter(\.isFinite)
            return values.isEmpty ? nil : values.mean
        }
        var rungs: [Rung] = []
        var total = SearchReplay.Compute()
        for key in keys {
            let runs = byPosition[key] ?? []
            var names: [String] = []
            for r in runs where !names.contains(name(r)) { names.append(name(r)) }
            let trained = names.map { n in (name: n, metric: metric(runs.filter { name($0) == n })) }
            let next = Set((byPosition[key + 1] ?? []).map(name))
            var compute = SearchReplay.Compute()
            for r in runs {
                var own = r
                if description.continues, key % 1000 > 0,
                   let previous = byPosition[key - 1]?.first(where: { name($0) == name(r) && $0.seed == r.seed }) {
                    own.steps = max(0, r.steps - previous.steps)
                }
                compute.add(own)
                total.add(own)
            }
            rungs.append(Rung(
                bracket: key / 1000, rung: key % 1000, budget: runs.first?.budget ?? 0, budgetSteps: runs.first?.budgetSteps,
                trained: trained, survivors: names.filter { next.contains($0) }, steps: compute.steps, seconds: compute.seconds, flops: compute.flops))
        }
        self.rungs = rungs
        // The winner: the best at the maximum budget over every bracket's last rung, the
        // first of equals in the order the search trained them (as the search chooses).
        winner = Self.best(rungs.filter { abs($0.budget - 1) < 1e-9 }.flatMap(\.trained), sign: sign)
        steps = total.steps
        seconds = total.seconds
        flops = total.flops
        // The full grid: every configuration and seed at the maximum budget's steps (those of
        // the runs at the maximum budget, else scaled up from the largest budget reached).
        let largest = mine.map(\.budget).max() ?? 1
        let fullSteps = mine.filter { $0.budget == largest }.compactMap { r in r.budgetSteps.map { Double($0) / r.budget } }.sorted()
        if description.configurations > 0, !fullSteps.isEmpty, total.steps > 0 {
            let perRun = fullSteps[fullSteps.count / 2].rounded()
            let grid = Int(perRun) * description.configurations * max(1, description.seeds)
            gridSteps = grid
            gridSeconds = total.seconds / Double(total.steps) * Double(grid)
            gridFLOPs = total.flops.map { $0 / Double(total.steps) * Double(grid) }
        }
    }

    /// The first best of `trained` (by `sign · metric`), skipping configurations with none.
    static func best(_ trained: [(name: String, metric: Double?)], sign: Double) -> (name: String, metric: Double)? {
        var best: (name: String, metric: Double)?
        for (n, m) in trained {
            guard let m else { continue }
            if best.map({ sign * m > sign * $0.metric }) ?? true { best = (n, m) }
        }
        return best
    }

    public var title: String {
        let plan = description.truncated ? "truncated: planned for the maximum budget, cut off at each rung" : "budget-aware: planned for each rung's budget"
        let start = description.continues ? "survivors continue from the previous rung" : "each rung from scratch"
        return "\(description.method), η = \(description.eta), schedule \(description.schedule) (\(plan); \(start))"
    }

    /// Markdown: the rungs, the winner and the compute.
    public func markdown() -> String {
        var out = "\n### Search: \(title)\n\n"
        out += "| bracket | rung | budget | steps | trained | best (\(description.metric)) | survivors | compute: steps | seconds |\n"
        out += "|---:|---:|---:|---:|---:|---|---:|---:|---:|\n"
        for r in rungs {
            let top = Self.best(r.trained, sign: description.lowerIsBetter ? -1 : 1)
            let bestText = top.map { "\($0.name): \(String(format: "%.4f", $0.metric))" } ?? "–"
            out += "| \(r.bracket) | \(r.rung) | \(String(format: "%.4g", r.budget)) | \(r.budgetSteps.map(String.init) ?? "") | \(r.trained.count) | \(bestText) | \(r.survivors.count) | \(r.steps) | \(String(format: "%.1f", r.seconds)) |\n"
        }
        let promoted = rungs.filter { !$0.survivors.isEmpty }
        if !promoted.isEmpty {
            out += "\nSurvivors:\n\n"
            for r in promoted {
                out += "- bracket \(r.bracket), rung \(r.rung) → \(r.rung + 1): \(r.survivors.joined(separator: "; "))\n"
            }
        }
        if let winner {
            out += "\nWinner: **\(winner.name)**, \(description.metric) \(String(format: "%.4f", winner.metric)) at the maximum budget.\n"
        } else {
            out += "\nNo winner yet (the search has not reached the maximum budget).\n"
        }
        out += "\nCompute: \(steps) steps, \(String(format: "%.1f", seconds)) s"
        if let flops { out += String(format: ", %.3g FLOPs", flops) }
        if let gridSteps, let gridSeconds {
            out += String(format: "; the full grid (%d configurations × %d seed(s) at the maximum budget) ≈ %d steps, ≈ %.0f s", description.configurations, max(1, description.seeds), gridSteps, gridSeconds)
            out += String(format: ": the search used %.1f%% of its steps.", 100 * Double(steps) / Double(max(gridSteps, 1)))
        } else {
            out += "."
        }
        if let r = regret {
            out += "\nAgainst the grid `\(r.grid)` at the maximum budget: its best is \(r.best) (\(String(format: "%.4f", r.bestMetric)))"
            if let w = r.winnerMetric, let regret = r.regret {
                out += "; the winner scores \(String(format: "%.4f", w)) there, a regret of \(String(format: "%.4f", regret))"
            }
            out += String(format: ". The grid spent %d steps and %.0f s at that budget (one schedule, all its seeds); the search %.1f%% of those steps.\n",
                          r.gridSteps, r.gridSeconds, 100 * Double(steps) / Double(max(r.gridSteps, 1)))
        }
        return out + "\n"
    }

    /// The same as HTML.
    public func html() -> String {
        var out = "<h3>Search: \(escape(title))</h3>\n<table><tr><th>bracket</th><th>rung</th><th>budget</th><th>steps</th><th>trained</th><th>survivors</th><th>compute: steps</th><th>seconds</th></tr>\n"
        for r in rungs {
            out += "<tr><td>\(r.bracket)</td><td>\(r.rung)</td><td>\(String(format: "%.4g", r.budget))</td><td>\(r.budgetSteps.map(String.init) ?? "")</td><td>\(r.trained.count)</td><td>\(r.survivors.count)</td><td>\(r.steps)</td><td>\(String(format: "%.1f", r.seconds))</td></tr>\n"
        }
        out += "</table>\n"
        let markdown = self.markdown()
        for line in markdown.split(separator: "\n") where ["Winner", "Compute", "No winner", "Against", "- bracket"].contains(where: { line.hasPrefix($0) }) {
            out += "<p>\(escape(line.replacingOccurrences(of: "**", with: "")))</p>\n"
        }
        return out
    }
}
