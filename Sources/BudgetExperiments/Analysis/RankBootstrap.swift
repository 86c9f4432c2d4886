import BudgetEngine
import Foundation

/// How surely a small budget ranks configurations as a reference budget does: Kendall's τ-b
/// and Spearman's ρ between the configurations' mean accuracies at the two budgets (as
/// `RankCorrelation`), each with a percentile bootstrap interval over seeds.
///
/// One bootstrap resample draws, for every configuration and each of the two budgets
/// independently, as many seeds as it has, with replacement, from its own seeds' accuracies,
/// and recomputes the means and then τ and ρ. The interval is the 2.5th to 97.5th percentile
/// over the resamples (nearest rank; resamples where a correlation is undefined, all values
/// tied, are left out). A configuration with one seed contributes no spread: with one seed
/// everywhere the interval is the point.
public struct RankBootstrap: Sendable {
    public struct Interval: Sendable, Equatable {
        public var low: Double
        public var high: Double
    }

    /// A group of configurations compared (all of them, or those of one schedule).
    public struct Entry: Sendable {
        public var name: String
        public var configurations: Int
        /// The most seeds any configuration has at either budget.
        public var seeds: Int
        public var kendallTau: Double
        public var spearmanRho: Double
        public var tauInterval: Interval
        public var rhoInterval: Interval
    }

    /// Accuracies of one configuration at the small and the reference budget, one per seed.
    public struct Samples: Sendable {
        public var name: String
        public var atBudget: [Double]
        public var atReference: [Double]
    }

    /// The accuracies of each configuration (named by `key`) at `budget` and `reference`,
    /// status `ok` only; configurations measured at only one of the two are left out.
    public static func samples(rows: [ResultRow], budget: Double, reference: Double, key: (ResultRow) -> String) -> [Samples] {
        func values(at b: Double) -> [String: [Double]] {
            var groups: [String: [Double]] = [:]
            for r in rows where r.status == .ok && abs(r.budget - b) <= 1e-9 * max(1, abs(b)) {
                if let a = r.testAccuracy, a.isFinite { groups[key(r), default: []].append(a) }
            }
            return groups
        }
        let small = values(at: budget), large = values(at: reference)
        return small.keys.sorted().compactMap { name in
            guard let s = small[name], let l = large[name] else { return nil }
            return Samples(name: name, atBudget: s, atReference: l)
        }
    }

    /// τ, ρ and their intervals over `resamples` bootstrap resamples drawn from `seed`.
    public static func entry(name: String, samples: [Samples], resamples: Int, seed: UInt64) throws -> Entry {
        guard samples.count >= 2 else {
            throw EngineError.invalidArgument("rank: '\(name)' has \(samples.count) configuration(s) measured at both budgets; at least two are needed")
        }
        guard resamples >= 1, resamples <= 1_000_000 else {
            throw EngineError.invalidArgument("rank: resamples must be in 1 ... 1000000, got \(resamples)")
        }
        let x = samples.map { $0.atBudget.mean }, y = samples.map { $0.atReference.mean }
        var rng = RandomGenerator(seed: seed, stream: 0x424F_4F54)
        var taus: [Double] = [], rhos: [Double] = []
        taus.reserveCapacity(resamples)
        rhos.reserveCapacity(resamples)
        func resampledMean(_ values: [Double]) -> Double {
            var sum = 0.0
            for _ in values { sum += values[rng.nextInt(below: values.count)] }
            return sum / Double(values.count)
        }
        for _ in 0..<resamples {
            let bx = samples.map { resampledMean($0.atBudget) }, by = samples.map { resampledMean($0.atReference) }
            let tau = RankCorrelation.kendallTauB(bx, by), rho = RankCorrelation.pearson(RankCorrelation.ranks(bx), RankCorrelation.ranks(by))
            if tau.isFinite { taus.append(tau) }
            if rho.isFinite { rhos.append(rho) }
        }
        return Entry(
            name: name, configurations: samples.count,
            seeds: samples.map { max($0.atBudget.count, $0.atReference.count) }.max() ?? 0,
            kendallTau: RankCorrelation.kendallTauB(x, y), spearmanRho: RankCorrelation.pearson(RankCorrelation.ranks(x), RankCorrelation.ranks(y)),
            tauInterval: percentileInterval(taus), rhoInterval: percentileInterval(rhos))
    }

    /// The 2.5th and 97.5th percentiles (nearest rank); NaN when there are no values.
    static func percentileInterval(_ values: [Double]) -> Interval {
        guard !values.isEmpty else { return Interval(low: .nan, high: .nan) }
        let sorted = values.sorted()
        func at(_ q: Double) -> Double { sorted[min(sorted.count - 1, max(0, Int((q * Double(sorted.count - 1)).rounded())))] }
        return Interval(low: at(0.025), high: at(0.975))
    }

    /// The configuration of a row within its schedule: its varied fields (`lr=0.1 width=64`),
    /// or `-` when it has none; prefixed by the experiment when rows of several are mixed.
    public static func configurationWithinSchedule(_ r: ResultRow) -> String {
        let varied = r.variedFields
        return varied.isEmpty ? "-" : varied.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }
}

extension ResultRow {
    /// The varied fields of the row's configuration, by name: its extra columns except
    /// `message` and a search's `bracket` and `rung`.
    public var variedFields: [(key: String, value: String)] {
        extras.filter { !ResultRow.bookkeepingColumns.contains($0.key) && !$0.value.isEmpty }.sorted { $0.key < $1.key }
    }

    /// Extra columns that are not varied fields: a run's message, and the bracket and rung a
    /// search trained it in.
    public static let bookkeepingColumns: Set<String> = ["message", "bracket", "rung"]
}
