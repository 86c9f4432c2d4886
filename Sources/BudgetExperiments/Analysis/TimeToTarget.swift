import BudgetEngine
import Foundation

/// How long each configuration (schedule and varied fields) at each budget takes to reach
/// target test accuracies, read from its runs' evaluations (`eval_at` points) in
/// metrics.jsonl.
///
/// A run reaches a target at the first evaluation whose test accuracy is at least the target;
/// its steps to target are the steps done by then, its seconds to target those steps times the
/// run's own seconds per step (results.csv's training seconds over its steps: evaluations are
/// not timed, and metrics hold no clock so that they stay the same bytes from run to run).
/// The resolution is that of the evaluation points: a run evaluated at 25%, 50%, 75% and 100%
/// of its budget reaches a target at one of those four points or not at all.
public struct TimeToTarget: Sendable {
    /// One configuration at one budget: the seeds that reached the target, and their means.
    public struct Cell: Sendable, Equatable {
        public var reached: Int
        public var runs: Int
        public var steps: Double
        public var seconds: Double

        /// Every run of the cell reached the target.
        public var solved: Bool { runs > 0 && reached == runs }
    }

    public var experiment: String
    public var targets: [Double]
    public var configurations: [String]
    public var budgets: [Double]
    /// By target, configuration and budget (absent: no finished run there).
    public var cells: [Double: [String: [Double: Cell]]]

    /// - Parameter runs: the experiment's rows with the folder its runs live in.
    public init(experiment: String, runs: [(directory: String, row: ResultRow)], targets: [Double], order: [String] = []) {
        self.experiment = experiment
        self.targets = targets
        let mine = runs.filter { $0.row.experiment == experiment && $0.row.status == .ok }
        var names: [String] = []
        for (_, r) in mine where !names.contains(r.configuration) { names.append(r.configuration) }
        configurations = names
        budgets = Array(Set(mine.map(\.row.budget))).sorted()
        var cells: [Double: [String: [Double: Cell]]] = [:]
        // Each run's evaluations, read once.
        let evaluations = mine.map { Self.evaluations(directory: $0.directory, run: $0.row.run) }
        for target in targets {
            for (index, (_, row)) in mine.enumerated() {
                var cell = cells[target]?[row.configuration]?[row.budget] ?? Cell(reached: 0, runs: 0, steps: 0, seconds: 0)
                cell.runs += 1
                if let step = evaluations[index].first(where: { $0.accuracy >= target })?.step {
                    let perStep = row.steps > 0 ? row.seconds / Double(row.steps) : 0
                    // Running means over the seeds that reached it.
                    cell.reached += 1
                    cell.steps += (Double(step) - cell.steps) / Double(cell.reached)
                    cell.seconds += (Double(step) * perStep - cell.seconds) / Double(cell.reached)
                }
                cells[target, default: [:]][row.configuration, default: [:]][row.budget] = cell
            }
        }
        self.cells = cells
    }

    /// `(step, test accuracy)` of each evaluation line of a run's metrics.jsonl, in order.
    static func evaluations(directory: String, run: String) -> [(step: Int, accuracy: Double)] {
        let path = directory + "/" + SafeName.folder(for: run) + "/metrics.jsonl"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        var out: [(Int, Double)] = []
        for line in text.split(separator: "\n") where line.hasPrefix("{\"event\":\"evaluation\"") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let step = (object["step"] as? NSNumber)?.intValue,
                  let accuracy = (object["test_accuracy"] as? NSNumber)?.doubleValue else { continue }
            out.append((step, accuracy))
        }
        return out
    }

    /// Whether any run reached any target (nothing to show otherwise).
    public var hasData: Bool { !targets.isEmpty && !configurations.isEmpty }

    /// Markdown: per target, steps and seconds to reach it per configuration × budget.
    public func markdown() -> String {
        guard hasData else { return "" }
        var out = "\nSteps and seconds to reach a target test accuracy (mean over the seeds that reached it; seconds = steps × the run's seconds per step; – where none did):\n"
        for target in targets {
            out += "\n| target \(String(format: "%.2f", target * 100))% | " + budgets.map { $0.formatted }.joined(separator: " | ") + " |\n"
            out += "|---|" + budgets.map { _ in "---:" }.joined(separator: "|") + "|\n"
            for name in configurations {
                out += "| \(name) |"
                for b in budgets {
                    guard let c = cells[target]?[name]?[b] else { out += " |"; continue }
                    if c.reached == 0 { out += " – |"; continue }
                    var text = String(format: "%.0f steps, %.1f s", c.steps, c.seconds)
                    if c.reached < c.runs { text += " (\(c.reached)/\(c.runs))" }
                    out += " \(text) |"
                }
                out += "\n"
            }
        }
        return out
    }
}

/// Performance profiles across problems, the AlgoPerf way (Dahl et al., "Benchmarking Neural
/// Network Training Algorithms", 2023, after Dolan & Moré 2002): a problem is one experiment
/// and one target; a configuration's time on it is the least mean seconds to target over its
/// budgets whose every seed reached it; `ρ_s(τ)` is the fraction of all problems that `s`
/// solves within `τ` times the best configuration's time there. Problems no configuration
/// solves count in the denominator and are solved by none.
public struct PerformanceProfile: Sendable {
    public var problems: [String]
    public var configurations: [String]
    /// By configuration, its time on each problem (nil: not solved).
    public var times: [String: [Double?]]

    public static let ratios: [Double] = [1, 1.25, 1.5, 2, 4, 8]

    public init(_ tables: [TimeToTarget]) {
        var problems: [String] = [], names: [String] = []
        var times: [String: [Double?]] = [:]
        for table in tables {
            for name in table.configurations where !names.contains(name) { names.append(name) }
        }
        for table in tables {
            for target in table.targets {
                problems.append("\(table.experiment) @ \(String(format: "%.2f", target * 100))%")
                for name in names {
                    let solved = table.cells[target]?[name]?.values.filter(\.solved).map(\.seconds) ?? []
                    times[name, default: []].append(solved.min())
                }
            }
        }
        self.problems = problems
        configurations = names
        self.times = times
    }

    /// ρ(τ) for `name`.
    public func fraction(_ name: String, within ratio: Double) -> Double {
        guard !problems.isEmpty, let mine = times[name] else { return 0 }
        var solved = 0
        for (p, t) in mine.enumerated() {
            guard let t else { continue }
            let best = configurations.compactMap { times[$0]?[p] ?? nil }.min() ?? t
            if t <= ratio * best * (1 + 1e-12) { solved += 1 }
        }
        return Double(solved) / Double(problems.count)
    }

    public var hasData: Bool { !problems.isEmpty && times.values.contains { $0.contains { $0 != nil } } }

    public func markdown() -> String {
        guard hasData else { return "" }
        var out = "\n## Performance profiles\n\nFraction of the \(problems.count) problems (experiment × target) each configuration reaches within τ times the fastest configuration's seconds to target (AlgoPerf's performance profile).\n\n"
        out += "| configuration | " + Self.ratios.map { "τ = \($0.formatted)" }.joined(separator: " | ") + " |\n"
        out += "|---|" + Self.ratios.map { _ in "---:" }.joined(separator: "|") + "|\n"
        for name in configurations {
            out += "| \(name) | " + Self.ratios.map { String(format: "%.2f", fraction(name, within: $0)) }.joined(separator: " | ") + " |\n"
        }
        return out
    }

    /// ρ(τ) as steps over τ from 1 to past the largest finite ratio (log scale).
    func chart() -> SVGChart {
        var largest = 1.0
        for p in problems.indices {
            let solved = configurations.compactMap { times[$0]?[p] ?? nil }
            if let best = solved.min(), best > 0, let worst = solved.max() { largest = max(largest, worst / best) }
        }
        let end = largest * 1.5
        let series = configurations.map { name -> SVGChart.Series in
            var breaks = [1.0, end]
            for p in problems.indices {
                let solved = configurations.compactMap { times[$0]?[p] ?? nil }
                if let t = times[name]?[p] ?? nil, let best = solved.min(), best > 0 { breaks.append(t / best) }
            }
            var points: [(x: Double, y: Double)] = []
            for tau in Set(breaks).sorted() where tau <= end {
                if let last = points.last { points.append((tau, last.y)) }
                points.append((tau, fraction(name, within: tau)))
            }
            return SVGChart.Series(name: name, points: points)
        }
        return SVGChart(title: "Performance profiles (time to target)", xLabel: "τ (time / best time, log scale)", yLabel: "fraction of problems solved", series: series, logX: true)
    }
}
