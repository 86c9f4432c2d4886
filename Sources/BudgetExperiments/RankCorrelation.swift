import BudgetEngine

/// How well the ranking of configurations at a small budget predicts their ranking at a
/// reference budget (the paper's appendix A): Kendall's τ-b and Spearman's ρ between the
/// mean test accuracies of the configurations present at both budgets.
public struct RankCorrelation: Sendable {
    /// Configurations compared (schedule plus any extra varied fields), with their mean
    /// accuracy at the budget and at the reference.
    public var configurations: [(name: String, budget: Double, reference: Double)]
    public var kendallTau: Double
    public var spearmanRho: Double

    /// Compares budget `budget` with budget `reference` over `rows` (status `ok` only; seeds
    /// averaged). Throws when fewer than two configurations are present at both.
    public init(rows: [ResultRow], budget: Double, reference: Double) throws {
        func key(_ r: ResultRow) -> String { r.experiment + " " + r.configuration }
        func means(at b: Double) -> [String: Double] {
            var groups: [String: [Double]] = [:]
            for r in rows where r.status == .ok && abs(r.budget - b) < 1e-9 {
                if let a = r.testAccuracy, a.isFinite { groups[key(r), default: []].append(a) }
            }
            return groups.mapValues(\.mean)
        }
        let small = means(at: budget), large = means(at: reference)
        let matched = small.keys.sorted().compactMap { name in large[name].map { (name, small[name] ?? .nan, $0) } }
        guard matched.count >= 2 else {
            throw EngineError.invalidArgument("rank: need at least two configurations finished at both budget \(budget.formatted) and \(reference.formatted); found \(matched.count)")
        }
        configurations = matched.map { (name: $0.0, budget: $0.1, reference: $0.2) }
        let x = configurations.map(\.budget), y = configurations.map(\.reference)
        kendallTau = Self.kendallTauB(x, y)
        spearmanRho = Self.pearson(Self.ranks(x), Self.ranks(y))
    }

    /// Kendall's τ-b, which corrects for ties in either variable.
    static func kendallTauB(_ x: [Double], _ y: [Double]) -> Double {
        var concordant = 0.0, discordant = 0.0, tiesX = 0.0, tiesY = 0.0
        for i in 0..<x.count {
            for j in (i + 1)..<x.count {
                let dx = x[i] - x[j], dy = y[i] - y[j]
                if dx == 0 && dy == 0 { continue }
                if dx == 0 { tiesX += 1; continue }
                if dy == 0 { tiesY += 1; continue }
                if (dx > 0) == (dy > 0) { concordant += 1 } else { discordant += 1 }
            }
        }
        let denominator = ((concordant + discordant + tiesX) * (concordant + discordant + tiesY)).squareRoot()
        return denominator == 0 ? .nan : (concordant - discordant) / denominator
    }

    /// Ranks 1...n, ties sharing their average rank.
    static func ranks(_ values: [Double]) -> [Double] {
        let order = values.indices.sorted { values[$0] < values[$1] }
        var ranks = [Double](repeating: 0, count: values.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count, values[order[j + 1]] == values[order[i]] { j += 1 }
            let average = Double(i + j) / 2 + 1
            for k in i...j { ranks[order[k]] = average }
            i = j + 1
        }
        return ranks
    }

    static func pearson(_ a: [Double], _ b: [Double]) -> Double {
        let ma = a.mean, mb = b.mean
        var sab = 0.0, saa = 0.0, sbb = 0.0
        for (x, y) in zip(a, b) {
            sab += (x - ma) * (y - mb); saa += (x - ma) * (x - ma); sbb += (y - mb) * (y - mb)
        }
        return saa == 0 || sbb == 0 ? .nan : sab / (saa * sbb).squareRoot()
    }
}
