import Foundation

// Schedules that go up as well as down: one-cycle, cosine with warm restarts, triangular cycles.

/// Cosine from `start` to `end` as `fraction` goes from 0 to 1.
private func cosineAnneal(from start: Double, to end: Double, _ fraction: Double) -> Double {
    end + (start - end) * (1 + cos(Double.pi * fraction)) / 2
}

/// The one-cycle policy (Smith & Topin, "Super-Convergence", 2019) exactly as PyTorch's
/// `OneCycleLR(anneal_strategy="cos", three_phase=False)` computes it, as a multiplier of
/// `max_lr` (the base learning rate):
/// - the rate starts at `1/div`, rises by a cosine to 1, then falls by a cosine to
///   `1/(div · final_div)`;
/// - with `T` = the budget in steps, PyTorch puts the peak at step `e₁ = pct_start · T − 1`
///   (a real number) and the end at step `e₂ = T − 1`; step `s ≤ e₁` is at
///   `cos_anneal(1/div, 1, s / e₁)`, a later one at
///   `cos_anneal(1, 1/(div·final_div), (s − e₁) / (e₂ − e₁))`, where
///   `cos_anneal(a, b, x) = b + (a − b)(1 + cos πx)/2`.
///
/// So, unlike the other schedules, the last step trains at the final value itself. Where
/// PyTorch would divide by zero (a phase of length zero, e.g. `pct_start · T = 1`), the phase
/// counts as finished. Under a wall-clock budget the step offsets vanish: peak at
/// `p = pct_start`, end at `p = 1`.
public struct OneCycleSchedule: Schedule {
    public let pctStart: Double
    public let div: Double
    public let finalDiv: Double

    public init(pctStart: Double = 0.3, div: Double = 25, finalDiv: Double = 1e4) throws {
        guard pctStart >= 0, pctStart <= 1 else {
            throw invalidScheduleArgument("onecycle", "pct_start must be in [0, 1], got \(pctStart)")
        }
        guard div.isFinite, div > 0 else {
            throw invalidScheduleArgument("onecycle", "div must be a finite number > 0, got \(div)")
        }
        guard finalDiv.isFinite, finalDiv > 0 else {
            throw invalidScheduleArgument("onecycle", "final_div must be a finite number > 0, got \(finalDiv)")
        }
        self.pctStart = pctStart
        self.div = div
        self.finalDiv = finalDiv
    }

    public var summary: String {
        scheduleSummary(
            "onecycle", pctStart == 0.3 ? nil : "pct_start=\(pctStart.formatted)",
            div == 25 ? nil : "div=\(div.formatted)", finalDiv == 1e4 ? nil : "final_div=\(finalDiv.formatted)")
    }

    public func multiplier(at p: Double, context: ScheduleContext) -> Double {
        let initial = 1 / div
        let minimum = initial / finalDiv
        // Position, peak and end on one axis: steps for a step budget, progress for wall-clock.
        let (position, peak, end): (Double, Double, Double) =
            context.isWallClock
            ? (p, pctStart, 1)
            : (Double(context.step), pctStart * Double(context.budget) - 1, Double(context.budget - 1))
        if position <= peak {
            return cosineAnneal(from: initial, to: 1, peak > 0 ? position / peak : 1)
        }
        return cosineAnneal(from: 1, to: minimum, end > peak ? (position - peak) / (end - peak) : 1)
    }
}

/// Cosine annealing with warm restarts, fitted to the budget (Loshchilov & Hutter, "SGDR:
/// Stochastic Gradient Descent with Warm Restarts", ICLR 2017). The budget is cut into `cycles`
/// cycles of lengths `T, T·mult, T·mult², …` that sum to 1; within cycle `i` (starting at `pᵢ`,
/// length `Tᵢ`) `m = (1 + cos(π (p − pᵢ) / Tᵢ)) / 2`, so every cycle decays towards 0 and the
/// last one ends at 0 with the budget.
public struct CosineRestartsSchedule: Schedule {
    public let cycles: Int
    public let mult: Double
    /// Progress at which each cycle after the first starts (ascending).
    private let restarts: [Double]
    /// Progress length of each cycle.
    private let lengths: [Double]

    /// More cycles than this would be shorter than any real run's steps.
    public static let maximumCycles = 10_000

    public init(cycles: Int = 4, mult: Double = 1) throws {
        guard cycles >= 1, cycles <= Self.maximumCycles else {
            throw invalidScheduleArgument("sgdr", "cycles must be in 1...\(Self.maximumCycles), got \(cycles)")
        }
        guard mult.isFinite, mult > 0 else {
            throw invalidScheduleArgument("sgdr", "mult must be a finite number > 0, got \(mult)")
        }
        let relative = (0..<cycles).map { pow(mult, Double($0)) }
        let total = relative.reduce(0, +)
        guard total.isFinite else {
            throw invalidScheduleArgument("sgdr", "mult=\(mult) over \(cycles) cycles overflows; use fewer cycles or a smaller mult")
        }
        lengths = relative.map { $0 / total }
        var starts: [Double] = []
        var start = 0.0
        for length in lengths.dropLast() {
            start += length
            starts.append(start)
        }
        restarts = starts
        self.cycles = cycles
        self.mult = mult
    }

    public var summary: String {
        scheduleSummary("sgdr", cycles == 4 ? nil : "cycles=\(cycles)", mult == 1 ? nil : "mult=\(mult.formatted)")
    }

    public func multiplier(at p: Double, context: ScheduleContext) -> Double {
        let cycle = reachedCount(of: restarts, at: p)
        let start = cycle == 0 ? 0 : restarts[cycle - 1]
        let t = min(1, max(0, (p - start) / lengths[cycle]))
        return (1 + cos(Double.pi * t)) / 2
    }
}

/// Triangular cyclical learning rate (Smith, "Cyclical Learning Rates for Training Neural
/// Networks", WACV 2017; PyTorch's `CyclicLR(mode="triangular")`), fitted to the budget:
/// `cycles` full triangles, each rising linearly from `low` to 1 over its first half and falling
/// back to `low` over its second. With `x = frac(p · cycles)`:
/// `m = low + (1 − low) · (1 − |2x − 1|)`. The budget thus starts and ends at `low`.
/// Defaults: 4 cycles between 0.1 and 1.
public struct CyclicSchedule: Schedule {
    public let cycles: Int
    public let low: Double

    public init(cycles: Int = 4, low: Double = 0.1) throws {
        guard cycles >= 1 else {
            throw invalidScheduleArgument("cyclic", "cycles must be >= 1, got \(cycles)")
        }
        guard low >= 0, low <= 1 else {
            throw invalidScheduleArgument("cyclic", "low must be in [0, 1], got \(low)")
        }
        self.cycles = cycles
        self.low = low
    }

    public var summary: String {
        scheduleSummary("cyclic", cycles == 4 ? nil : "cycles=\(cycles)", low == 0.1 ? nil : "low=\(low.formatted)")
    }

    public func multiplier(at p: Double, context: ScheduleContext) -> Double {
        let position = p * Double(cycles)
        let x = position - position.rounded(.down)
        return low + (1 - low) * (1 - abs(2 * x - 1))
    }
}
