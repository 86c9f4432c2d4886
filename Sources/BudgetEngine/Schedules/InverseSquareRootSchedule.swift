import Foundation

/// The Transformer's inverse-square-root schedule (Vaswani et al., "Attention Is All You Need",
/// 2017: `lr ∝ min(n^−½, n · W^−³ᐟ²)`), scaled so that its peak is 1: a linear warm-up over the
/// first `warmup` fraction of the budget, then decay as `1/√n`.
///
/// With `T` the budget in steps, `n = step + 1` (the 1-based step, so the first step does
/// not train at zero) and `W = max(warmup · T, 1)` the warm-up length in steps:
/// `m = min(n / W, √(W / n))`. It reaches 1 at `n = W` and ends at `√warmup` (for `W ≥ 1`).
/// `warmup = 0` means a warm-up of one step: `m = 1/√(step + 1)`, the plain `t^−½` decay.
///
/// Under a wall-clock budget steps are not known in advance and `m = min(p / warmup, √(warmup / p))`;
/// `warmup = 0` then has no meaning and the run stops with an error.
public struct InverseSquareRootSchedule: Schedule {
    public let warmup: Double

    public init(warmup: Double = 0.1) throws {
        guard warmup >= 0, warmup < 1 else {
            throw invalidScheduleArgument("inverse_sqrt", "warmup must be in [0, 1), got \(warmup)")
        }
        self.warmup = warmup
    }

    public var summary: String { scheduleSummary("inverse_sqrt", warmup == 0.1 ? nil : "warmup=\(warmup.formatted)") }

    public func multiplier(at p: Double, context: ScheduleContext) throws -> Double {
        if context.isWallClock {
            guard warmup > 0 else {
                throw EngineError.training("\(summary): warmup=0 needs a budget in steps or epochs (under a wall-clock budget one step's share of the budget is unknown)")
            }
            guard p > 0 else { return 0 }
            return min(p / warmup, (warmup / p).squareRoot())
        }
        let n = Double(context.step + 1)
        let warmupSteps = max(warmup * Double(context.budget), 1)
        return min(n / warmupSteps, (warmupSteps / n).squareRoot())
    }
}
