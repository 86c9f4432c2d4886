import Foundation

/// Warmup-stable-decay (WSD, a.k.a. trapezoidal) without its warm-up, which is the
/// `WarmupSchedule` combinator's job: the rate stays at 1 until `p = 1 − decay`, then cools down
/// to 0 over the last `decay` fraction of the budget. With `q = (p − (1 − decay)) / decay`:
/// - `linear`: `1 − q`
/// - `cosine`: `(1 + cos(π q)) / 2`
/// - `1-sqrt`: `1 − √q`
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

    public let decay: Double
    public let shape: Cooldown

    public init(decay: Double = 0.2, shape: Cooldown = .linear) throws {
        guard decay > 0, decay <= 1 else {
            throw invalidScheduleArgument("wsd", "decay must be in (0, 1], got \(decay)")
        }
        self.decay = decay
        self.shape = shape
    }

    public var summary: String {
        scheduleSummary("wsd", decay == 0.2 ? nil : "decay=\(decay.formatted)", shape == .linear ? nil : "shape=\(shape.rawValue)")
    }

    public func multiplier(at p: Double, context: ScheduleContext) -> Double {
        let cooldownStart = 1 - decay
        guard p > cooldownStart else { return 1 }
        let q = min(1, (p - cooldownStart) / decay)
        switch shape {
        case .linear: return 1 - q
        case .cosine: return (1 + cos(Double.pi * q)) / 2
        case .oneMinusSqrt: return 1 - q.squareRoot()
        }
    }
}
