import BudgetEngine
import Foundation

/// The brackets and rungs of successive halving (Jamieson & Talwalkar, "Non-stochastic Best
/// Arm Identification and Hyperparameter Optimization", AISTATS 2016) and Hyperband (Li,
/// Jamieson, DeSalvo, Rostamizadeh & Talwalkar, "Hyperband", JMLR 2018, Algorithm 1).
///
/// With a maximum budget `R`, a reduction factor `η` and `s_max = ⌊log_η(R / r_min)⌋`, bracket
/// `s ∈ {s_max, …, 0}` starts `n_s` configurations at budget `R·η^−s` and, at rung `i`, trains
/// the `n_i` still in it at budget `R·η^−(s−i)`, keeping the best `n_{i+1} = max(1, ⌊n_i/η⌋)`
/// for the next rung; its last rung trains at `R`.
///
/// - Successive halving (`hyperband = false`) is one bracket, `s` (default `s_max`), over every
///   configuration of the search in order: 27 configurations with `η = 3` and `R = 27·r_min`
///   train 27 at `R/27`, 9 at `R/9`, 3 at `R/3` and 1 at `R`.
/// - Hyperband runs every bracket from `s_max` down to 0; bracket `s` starts
///   `n_s = ⌈(s_max + 1)/(s + 1) · η^s⌉` configurations (at most as many as the search has),
///   the first `n_s` of a permutation of the list drawn from `(seed, s)`.
///
/// Ties in the metric go to the configuration listed first. The winner of a bracket is its
/// best configuration at its last rung; the search's winner is the best of the bracket
/// winners at the maximum budget.
public struct SearchStructure: Sendable, Equatable {
    public struct Rung: Sendable, Equatable {
        public var index: Int
        /// The rung's budget as a fraction of the maximum budget, `η^−(s−i)`.
        public var fraction: Double
        /// Configurations trained at this rung.
        public var size: Int
        /// How many of them go on to the next rung (0 at the last rung).
        public var keep: Int
    }

    public struct Bracket: Sendable, Equatable {
        /// `s`: the number of halvings; the bracket starts at `R·η^−s`.
        public var halvings: Int
        /// The configurations it starts with, as indices into the search's list.
        public var configurations: [Int]
        public var rungs: [Rung]
    }

    public let eta: Int
    public let maxHalvings: Int
    public let brackets: [Bracket]

    /// `s_max = ⌊log_η(ratio)⌋` for `ratio = R / r_min` (a ratio within 1e-9 of a power of η
    /// counts as that power).
    public static func maxHalvings(eta: Int, ratio: Double) -> Int {
        guard eta >= 2, ratio >= 1, ratio.isFinite else { return 0 }
        var s = 0, power = 1.0
        while s < 60, power * Double(eta) <= ratio * (1 + 1e-9) {
            power *= Double(eta)
            s += 1
        }
        return s
    }

    /// - Parameters:
    ///   - configurationCount: configurations in the search's list.
    ///   - hyperband: every bracket `s_max … 0` (else one bracket, `bracket` or `s_max`).
    ///   - seed: draws which configurations each Hyperband bracket starts with.
    public init(configurationCount n: Int, eta: Int, maxHalvings sMax: Int, hyperband: Bool, bracket: Int? = nil, seed: UInt64 = 0) throws {
        guard n >= 1 else { throw EngineError.invalidArgument("search: no configurations to search") }
        guard eta >= 2 else { throw EngineError.invalidArgument("search: eta must be an integer >= 2, got \(eta)") }
        guard sMax >= 0, sMax <= 20 else { throw EngineError.invalidArgument("search: \(sMax) halvings; at most 20 are supported") }
        if let bracket, !(0...sMax).contains(bracket) {
            throw EngineError.invalidArgument("search: bracket must be in 0 ... \(sMax) (the halvings between the minimum and maximum budget), got \(bracket)")
        }
        self.eta = eta
        maxHalvings = sMax
        var brackets: [Bracket] = []
        for s in hyperband ? Array((0...sMax).reversed()) : [bracket ?? sMax] {
            let configurations: [Int]
            if hyperband {
                let wanted = (Double(sMax + 1) / Double(s + 1) * pow(Double(eta), Double(s))).rounded(.up)
                configurations = Array(Self.permutation(n, seed: seed, stream: UInt64(s)).prefix(Int(min(wanted, Double(n)))))
            } else {
                configurations = Array(0..<n)
            }
            var rungs: [Rung] = []
            var size = configurations.count
            for i in 0...s {
                let keep = i == s ? 0 : max(1, size / eta)
                rungs.append(Rung(index: i, fraction: pow(Double(eta), -Double(s - i)), size: size, keep: keep))
                size = keep
            }
            brackets.append(Bracket(halvings: s, configurations: configurations, rungs: rungs))
        }
        self.brackets = brackets
    }

    /// A seeded permutation of `0 ..< n` (Fisher–Yates on budgetrain's generator).
    static func permutation(_ n: Int, seed: UInt64, stream: UInt64) -> [Int] {
        var indices = (0..<Int32(n)).map { $0 }
        var rng = RandomGenerator(seed: seed, stream: 0x4859_5042 ^ stream)
        indices.withUnsafeMutableBufferPointer { rng.shuffle($0) }
        return indices.map(Int.init)
    }

    /// The `count` best of `candidates` by `metrics` (higher is better; a missing or NaN
    /// metric ranks last); ties keep the candidates' order.
    public static func best(_ candidates: [Int], metrics: [Int: Double], count: Int) -> [Int] {
        let ranked = candidates.enumerated().sorted { a, b in
            let x = metrics[a.element].flatMap { $0.isNaN ? nil : $0 } ?? -.infinity
            let y = metrics[b.element].flatMap { $0.isNaN ? nil : $0 } ?? -.infinity
            return x != y ? x > y : a.offset < b.offset
        }
        return ranked.prefix(max(0, count)).map(\.element)
    }

    /// What a search did at one rung of one bracket.
    public struct RungOutcome: Sendable {
        public var bracket: Int
        public var rung: Rung
        public var trained: [Int]
        /// Each trained configuration's metric (NaN: it failed or diverged).
        public var metrics: [Int: Double]
        /// The configurations that go on (empty at the last rung).
        public var survivors: [Int]
    }

    public struct Outcome: Sendable {
        public var rungs: [RungOutcome]
        /// Each bracket's best configuration at its last rung, with its metric there.
        public var bracketWinners: [(bracket: Int, configuration: Int, metric: Double)]
        /// The best of the bracket winners (nil when every run failed).
        public var winner: Int?
    }

    /// Carries out the search, bracket by bracket and rung by rung: `evaluate(bracket, rung,
    /// configurations)` trains (or looks up) each configuration at the rung's budget and
    /// returns its metric, higher being better.
    public func run(evaluate: (Bracket, Rung, [Int]) throws -> [Int: Double]) rethrows -> Outcome {
        var outcomes: [RungOutcome] = []
        var winners: [(bracket: Int, configuration: Int, metric: Double)] = []
        for bracket in brackets {
            let order = Dictionary(bracket.configurations.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
            var current = bracket.configurations
            for rung in bracket.rungs {
                let metrics = try evaluate(bracket, rung, current)
                let survivors = Self.best(current, metrics: metrics, count: rung.keep)
                outcomes.append(RungOutcome(bracket: bracket.halvings, rung: rung, trained: current, metrics: metrics, survivors: survivors))
                if rung.keep == 0, let top = Self.best(current, metrics: metrics, count: 1).first {
                    winners.append((bracket.halvings, top, metrics[top] ?? .nan))
                }
                // The next rung lists its configurations in the bracket's order, so that ties
                // there break by that order too (as results.csv and the summary list them).
                current = survivors.sorted { (order[$0] ?? 0) < (order[$1] ?? 0) }
            }
        }
        let finals = Dictionary(winners.map { ($0.configuration, $0.metric) }, uniquingKeysWith: { a, b in max(a, b) })
        let winner = Self.best(winners.map(\.configuration), metrics: finals, count: 1).first
        return Outcome(rungs: outcomes, bracketWinners: winners, winner: winner.flatMap { w in (finals[w]?.isNaN ?? true) ? nil : w })
    }
}
