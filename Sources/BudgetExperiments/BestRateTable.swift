import BudgetEngine

/// Each schedule at its best learning rate, picked on validation data.
///
/// Bergsma et al. (2025), *Straight to Zero: Why Linearly Decaying the Learning Rate to Zero
/// Works Best for LLMs*, compare schedules "under an optimal peak LR": a schedule that needs a
/// different base rate should not lose for being run at another's. With `vary = { lr = {...} }`
/// every configuration (a schedule plus any other varied field) × budget was trained at each
/// rate; this table keeps, for each such cell, the rate whose mean **validation** accuracy over
/// seeds is highest, and reports the mean ± std **test** accuracy at that rate. Picking the
/// rate on the test set would report the maximum of several noisy test accuracies, which
/// overstates every schedule, and the more so the more rates were tried.
///
/// The rule, in full: a rate is eligible for a cell when every run of it finished (status
/// `ok`) with a validation accuracy (a rate at which a seed diverged is not one to recommend);
/// among eligible rates the highest mean validation accuracy wins, ties going to the lower
/// mean validation loss, then to the smaller rate. A chosen rate at either end of the grid is
/// flagged: the best rate may lie beyond it.
public struct BestRateTable: Sendable {
    /// The varied field that holds the learning rate (`vary = { lr = {...} }`).
    public static let field = "lr"

    /// One rate of one cell: statistics over its seeds.
    public struct RatePoint: Sendable {
        public var rate: Double
        public var validation: CellStatistics
        public var validationLoss: CellStatistics
        public var test: CellStatistics
        /// Whether the rule may choose this rate (every run finished with a validation accuracy).
        public var eligible: Bool
    }

    /// The rate chosen for a cell, and the test accuracy there.
    public struct Choice: Sendable {
        public var rate: Double
        public var validation: CellStatistics
        public var test: CellStatistics
        /// The smallest or largest rate of the grid: the best may lie outside it.
        public var atEdge: Bool
    }

    public var experiment: String
    /// Configurations without the rate (e.g. `linear`, `cosine width=64`), in the summary's order.
    public var configurations: [String]
    public var budgets: [Double]
    /// Every rate tried, ascending.
    public var rates: [Double]
    /// Whether any run measured a validation accuracy; without one nothing is chosen.
    public var hasValidation: Bool
    /// Per configuration and budget, one point per rate tried (ascending).
    public var points: [String: [Double: [RatePoint]]]
    /// Per configuration and budget, the chosen rate (absent where no rate is eligible).
    public var choices: [String: [Double: Choice]]

    /// The table for `rows` of one experiment, configurations ordered as in `order` (the
    /// summary's configurations, each with its rate); nil when the rows vary no learning rate.
    public init?(experiment: String, rows: [ResultRow], order: [String] = []) {
        let mine = rows.filter { $0.experiment == experiment && $0.rate != nil }
        guard !mine.isEmpty else { return nil }
        self.experiment = experiment
        let byConfiguration = Dictionary(mine.map { ($0.configuration, $0.configurationWithoutRate) }, uniquingKeysWith: { a, _ in a })
        configurations = (order.compactMap { byConfiguration[$0] } + mine.map(\.configurationWithoutRate)).uniquedInOrder()
        budgets = Set(mine.map(\.budget)).sorted()
        rates = Set(mine.compactMap(\.rate)).sorted()
        hasValidation = mine.contains { $0.valAccuracy != nil }
        var points: [String: [Double: [RatePoint]]] = [:]
        var choices: [String: [Double: Choice]] = [:]
        let grouped = Dictionary(grouping: mine) { "\($0.configurationWithoutRate)\u{0}\($0.budget)" }
        for c in configurations {
            for b in budgets {
                let cell = grouped["\(c)\u{0}\(b)"] ?? []
                guard !cell.isEmpty else { continue }
                let curve = rates.compactMap { rate in Self.point(rate: rate, runs: cell.filter { $0.rate == rate }) }
                points[c, default: [:]][b] = curve
                if let choice = Self.choose(curve, grid: rates) { choices[c, default: [:]][b] = choice }
            }
        }
        self.points = points
        self.choices = choices
    }

    /// Statistics of the runs at one rate; nil when there are none.
    static func point(rate: Double, runs: [ResultRow]) -> RatePoint? {
        guard !runs.isEmpty else { return nil }
        let finished = runs.filter { $0.status == .ok }
        func statistics(_ value: (ResultRow) -> Double?) -> CellStatistics {
            let values = finished.compactMap(value).filter(\.isFinite)
            return CellStatistics(mean: values.mean, std: values.sampleStd, count: values.count, unfinished: runs.count - finished.count)
        }
        let validation = statistics(\.valAccuracy)
        return RatePoint(
            rate: rate, validation: validation, validationLoss: statistics(\.valLoss), test: statistics(\.testAccuracy),
            eligible: validation.count == runs.count)
    }

    /// The rule of the type's description: highest mean validation accuracy among eligible
    /// rates, then lowest mean validation loss, then the smaller rate.
    static func choose(_ curve: [RatePoint], grid: [Double]) -> Choice? {
        let best = curve.filter(\.eligible).min { a, b in
            if a.validation.mean != b.validation.mean { return a.validation.mean > b.validation.mean }
            let la = a.validationLoss.count > 0 ? a.validationLoss.mean : .infinity
            let lb = b.validationLoss.count > 0 ? b.validationLoss.mean : .infinity
            if la != lb { return la < lb }
            return a.rate < b.rate
        }
        guard let best else { return nil }
        let atEdge = grid.count > 1 && (best.rate == grid.first || best.rate == grid.last)
        return Choice(rate: best.rate, validation: best.validation, test: best.test, atEdge: atEdge)
    }

    /// The configuration of each budget with the highest mean test accuracy at its chosen rate.
    public var bestByBudget: [Double: String] {
        var best: [Double: String] = [:]
        for b in budgets {
            let candidates = configurations.compactMap { c in choices[c]?[b].flatMap { $0.test.count > 0 ? (c, $0.test.mean) : nil } }
            best[b] = candidates.max { $0.1 < $1.1 }?.0
        }
        return best
    }
}

extension ResultRow {
    /// The learning rate this run was trained at, when the experiment varied it.
    var rate: Double? { extras[BestRateTable.field].flatMap { Double($0) } }

    /// `configuration` without the learning rate: what the rates of one best-rate cell share.
    var configurationWithoutRate: String {
        let varied = extras.filter { $0.key != "message" && $0.key != BestRateTable.field && !$0.value.isEmpty }.sorted { $0.key < $1.key }
        return ([schedule] + varied.map { "\($0.key)=\($0.value)" }).joined(separator: " ")
    }
}

extension Array where Element == String {
    /// The elements in order, each once.
    func uniquedInOrder() -> [String] {
        var seen = Set<String>()
        return filter { seen.insert($0).inserted }
    }
}
