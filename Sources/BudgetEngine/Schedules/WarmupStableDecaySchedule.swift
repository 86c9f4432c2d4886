import Foundation

/// Warmup-stable-decay (WSD, a.k.a. trapezoidal): a linear warm-up, the rate at 1, then a
/// cooldown to 0 at the end of the budget.
///
/// - Warm-up: `W` steps, given in steps or as a fraction of the *full* budget (`W = round(
///   warmup · full)`), so that runs of every budget warm up alike and share their beginning
///   (see the experiment layer's trunks); step `k < W` trains at `(k + 1) / W` times the rest.
/// - Cooldown over the last `decay` of the budget (or the last `decaySteps` steps: `decay =
///   decaySteps / budget`): with `q = (p − (1 − decay)) / decay` once `p > 1 − decay`,
///   - `linear`: `1 − q`
///   - `cosine`: `(1 + cos(π q)) / 2`
///   - `1-sqrt`: `1 − √q`
///
/// Under a wall-clock budget a warm-up in steps counts steps; one as a fraction counts
/// progress (`p < warmup`).
///
/// Sources: Hu et al., "MiniCPM" (2024) for WSD; Hägele et al., "Scaling Laws and
/// Compute-Optimal Training Beyond Fixed Training Durations" (NeurIPS 2024) for the 1-sqrt
/// cooldown.
public struct WarmupStableDecaySchedule: Schedule {
    /// The shape of the final cooldown.
    public enum Cooldown: String, Sendable, CaseIterable {
        case linear
        case cosine
        case oneMinusSqrt = "1-sqrt"

        /// The shape called `name` (`"linear"`, `"cosine"` or `"1-sqrt"`).
        public init(named name: String) throws {
            guard let shape = Cooldown(rawValue: name) else {
                let names = Cooldown.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
                throw invalidScheduleArgument("wsd", "shape must be one of \(names), got \"\(name)\"")
            }
            self = shape
        }
    }

    /// How long the warm-up or the cooldown lasts: a fraction (of the full budget for the
    /// warm-up, of the budget for the cooldown) or a number of steps.
    public enum Length: Sendable, Equatable {
        case fraction(Double)
        case steps(Int)
    }

    public let warmup: Length
    public let decay: Length
    public let shape: Cooldown

    public init(warmup: Length = .fraction(0), decay: Length = .fraction(0.2), shape: Cooldown = .linear) throws {
        switch warmup {
        case let .fraction(f) where !(f >= 0 && f < 1): throw invalidScheduleArgument("wsd", "warmup must be a fraction of the full budget in [0, 1), got \(f)")
        case let .steps(n) where n < 0 || n >= Budget.maximumSteps: throw invalidScheduleArgument("wsd", "warmup_steps must be a number of steps >= 0, got \(n)")
        default: break
        }
        switch decay {
        case let .fraction(f) where !(f > 0 && f <= 1): throw invalidScheduleArgument("wsd", "decay must be in (0, 1], got \(f)")
        case let .steps(n) where n < 1 || n >= Budget.maximumSteps: throw invalidScheduleArgument("wsd", "decay_steps must be a number of steps >= 1, got \(n)")
        default: break
        }
        self.warmup = warmup
        self.decay = decay
        self.shape = shape
    }

    /// The schedule with its historical arguments: no warm-up, a cooldown over `decay`.
    public init(decay: Double = 0.2, shape: Cooldown = .linear) throws {
        try self.init(warmup: .fraction(0), decay: .fraction(decay), shape: shape)
    }

    public var summary: String {
        let warm: String? = {
            switch warmup {
            case .fraction(0): return nil
            case let .fraction(f): return "warmup=\(f.formatted)"
            case let .steps(n): return "warmup_steps=\(n)"
            }
        }()
        let cool: String? = {
            switch decay {
            case .fraction(0.2): return nil
            case let .fraction(f): return "decay=\(f.formatted)"
            case let .steps(n): return "decay_steps=\(n)"
            }
        }()
        return scheduleSummary("wsd", warm, cool, shape == .linear ? nil : "shape=\(shape.rawValue)")
    }

    public func multiplier(at p: Double, context: ScheduleContext) -> Double {
        cooldown(at: p, context: context) * warmupFactor(at: p, context: context)
    }

    private func cooldown(at p: Double, context: ScheduleContext) -> Double {
        let length: Double
        switch decay {
        case let .fraction(f): length = f
        case let .steps(n): length = context.isWallClock ? 1 : min(1, Double(n) / Double(max(context.budget, 1)))
        }
        let cooldownStart = 1 - length
        guard p > cooldownStart else { return 1 }
        let q = min(1, (p - cooldownStart) / length)
        switch shape {
        case .linear: return 1 - q
        case .cosine: return (1 + cos(Double.pi * q)) / 2
        case .oneMinusSqrt: return 1 - q.squareRoot()
        }
    }

    private func warmupFactor(at p: Double, context: ScheduleContext) -> Double {
        switch warmup {
        case .fraction(0), .steps(0): return 1
        case let .fraction(f) where context.isWallClock: return p < f ? p / f : 1
        case let .fraction(f):
            let steps = max(1, Int((f * Double(context.fullBudget)).rounded()))
            return context.step < steps ? Double(context.step + 1) / Double(steps) : 1
        case let .steps(n): return context.step < n ? Double(context.step + 1) / Double(n) : 1
        }
    }
}
