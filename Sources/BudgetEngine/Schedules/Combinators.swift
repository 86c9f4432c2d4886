// Schedules built from schedules: warm-up, piecewise sequences, staircases, and the truncated
// off-the-shelf baseline. Each hands its inner schedule a context in which the part of the run
// the inner schedule covers looks like a whole run (see `ScheduleContext.subRun`), so the inner
// schedule starts at its own p = 0 and reaches its own last step exactly when its part ends.

/// Linear warm-up, then `schedule` over the rest of the budget.
///
/// With `T` the budget in steps, the warm-up takes `W = round(fraction · T)` steps (at least one
/// when `fraction > 0`, and at most `T − 1` so the schedule keeps a step):
/// - step `k < W` trains at `s(0) · (k + 1) / W` (as PyTorch's `LinearLR`: the first step
///   already moves, the last warm-up step reaches `s(0)`);
/// - step `k ≥ W` trains at `s((k − W) / (T − W))`, `s` running over the remaining `T − W`
///   steps as if they were a run of their own.
///
/// Under a wall-clock budget: `s(0) · p / fraction` for `p < fraction`, then
/// `s((p − fraction) / (1 − fraction))`.
public struct WarmupSchedule: Schedule {
    public let fraction: Double
    public let schedule: Schedule
    public let nestingDepth: Int

    /// Warm up over the first `fraction` (in `[0, 1)`) of the budget, then run `schedule`.
    public init(_ fraction: Double, _ schedule: Schedule) throws {
        guard fraction >= 0, fraction < 1 else {
            throw invalidScheduleArgument("warmup", "the warm-up fraction must be in [0, 1), got \(fraction)")
        }
        self.fraction = fraction
        self.schedule = schedule
        nestingDepth = try combinedDepth("warmup", [schedule])
    }

    public var summary: String { "warmup(\(fraction.formatted), \(schedule.summary))" }

    /// Warm-up steps in a budget of `budget` steps.
    func warmupSteps(budget: Int) -> Int {
        guard fraction > 0 else { return 0 }
        return min(budget - 1, max(1, Int((fraction * Double(budget)).rounded())))
    }

    public func multiplier(at p: Double, context: ScheduleContext) throws -> Double {
        if context.isWallClock {
            if p < fraction { return try schedule.multiplier(at: 0, context: context) * p / fraction }
            return try schedule.multiplier(at: (p - fraction) / (1 - fraction), context: context)
        }
        let warmup = warmupSteps(budget: context.budget)
        if context.step < warmup {
            let start = context.subRun(from: warmup, to: context.budget, at: warmup)
            let peak = try schedule.multiplier(at: 0, context: start)
            return peak * Double(context.step + 1) / Double(warmup)
        }
        let rest = context.subRun(from: warmup, to: context.budget)
        return try schedule.multiplier(at: rest.stepProgress, context: rest)
    }
}

/// Schedules one after another: segment `i` covers progress `[until₍ᵢ₋₁₎, untilᵢ)` (the first
/// starts at 0, the last `until` must be 1) and runs its schedule over its own local progress,
/// from 0 at the segment's first step to its last step at the segment's end.
///
/// With `T` steps, a segment covers the steps whose progress `k / T` falls in it,
/// `⌈a·T⌉ ..< ⌈b·T⌉`, and its schedule sees them as a run of that many steps. A segment too short
/// to hold a step is skipped. Under a wall-clock budget the local progress is
/// `(p − a) / (b − a)`.
///
/// ```swift
/// // constant for the first half, then linear decay to 0:
/// let s = try SequenceSchedule([(until: 0.5, schedule: ConstantSchedule()), (until: 1, schedule: LinearSchedule())])
/// ```
public struct SequenceSchedule: Schedule {
    /// Where each segment ends (ascending, the last is 1).
    public let ends: [Double]
    public let schedules: [Schedule]
    public let nestingDepth: Int

    public init(_ segments: [(until: Double, schedule: Schedule)]) throws {
        guard let last = segments.last else {
            throw invalidScheduleArgument("sequence", "needs at least one segment")
        }
        for (i, segment) in segments.enumerated() {
            guard segment.until > 0, segment.until <= 1 else {
                throw invalidScheduleArgument("sequence", "segment \(i + 1) ends at \(segment.until); ends must be in (0, 1]")
            }
            if i > 0, segment.until <= segments[i - 1].until {
                throw invalidScheduleArgument(
                    "sequence", "segment \(i + 1) ends at \(segment.until.formatted), not after segment \(i) (\(segments[i - 1].until.formatted)); ends must increase")
            }
        }
        guard last.until == 1 else {
            throw invalidScheduleArgument("sequence", "the last segment must end at 1, got \(last.until)")
        }
        ends = segments.map(\.until)
        schedules = segments.map(\.schedule)
        nestingDepth = try combinedDepth("sequence", schedules)
    }

    public var summary: String {
        let parts = zip(schedules, ends).map { "\($0.summary) to \($1.formatted)" }
        return "sequence(\(parts.joined(separator: ", ")))"
    }

    public func multiplier(at p: Double, context: ScheduleContext) throws -> Double {
        context.isWallClock ? try wallClockMultiplier(at: p, context: context) : try stepMultiplier(context: context)
    }

    private func stepMultiplier(context: ScheduleContext) throws -> Double {
        var start = 0
        for i in schedules.indices {
            let isLast = i == schedules.count - 1
            let end = isLast ? max(context.budget, start + 1) : firstStep(reaching: ends[i], budget: context.budget)
            if context.step < end || isLast {
                let part = context.subRun(from: start, to: end)
                return try schedules[i].multiplier(at: part.stepProgress, context: part)
            }
            start = end
        }
        return 0  // unreachable: the last segment always answers
    }

    private func wallClockMultiplier(at p: Double, context: ScheduleContext) throws -> Double {
        var start = 0.0
        for i in schedules.indices {
            if p < ends[i] || i == schedules.count - 1 {
                return try schedules[i].multiplier(at: (p - start) / (ends[i] - start), context: context)
            }
            start = ends[i]
        }
        return 0  // unreachable: the last segment always answers
    }
}

/// A staircase: `schedule` held constant over each block of steps, at its value at the block's
/// first step. `every: .epoch` gives the per-epoch staircase that epoch-stepped PyTorch
/// schedulers produce; `.steps(k)` holds for `k` steps. Blocks are aligned to the run's steps
/// (epochs are the data's epochs) even inside another combinator; a block that began before the
/// inner part of the run began is held at that part's first value.
///
/// A wall-clock budget does not know the progress at the start of a block, so the run stops
/// with an error there.
public struct SampledSchedule: Schedule {
    public enum Interval: Sendable, Equatable {
        /// Hold for one epoch of the training data.
        case epoch
        /// Hold for this many steps.
        case steps(Int)
    }

    public let schedule: Schedule
    public let interval: Interval
    public let nestingDepth: Int

    public init(_ schedule: Schedule, every interval: Interval = .epoch) throws {
        if case let .steps(k) = interval, k < 1 {
            throw invalidScheduleArgument("sampled", "steps must be >= 1, got \(k)")
        }
        self.schedule = schedule
        self.interval = interval
        nestingDepth = try combinedDepth("sampled", [schedule])
    }

    public var summary: String {
        switch interval {
        case .epoch: return "sampled(\(schedule.summary), every=epoch)"
        case let .steps(k): return "sampled(\(schedule.summary), steps=\(k))"
        }
    }

    public func multiplier(at p: Double, context: ScheduleContext) throws -> Double {
        guard !context.isWallClock else {
            throw EngineError.training("\(summary): needs a budget in steps or epochs (under a wall-clock budget the progress at the start of a block is unknown)")
        }
        let block: Int
        switch interval {
        case .epoch: block = context.stepsPerEpoch
        case let .steps(k): block = k
        }
        guard block >= 1 else {
            throw EngineError.training("\(summary): an epoch has \(block) steps")
        }
        let runStep = max(0, context.step + context.stepOffset)
        let blockStart = max(0, runStep - runStep % block - context.stepOffset)
        let held = context.atStep(min(blockStart, context.step))
        return try schedule.multiplier(at: held.stepProgress, context: held)
    }
}

/// The budget-unaware baseline: `schedule` planned for the experiment's full budget and simply
/// cut off when this run's budget ends, `m = s(step / fullBudget)`, the inner schedule seeing
/// the full budget as its budget. This is the "off-the-shelf" curve of the Budgeted Training
/// paper: a step decay planned at 50% / 75% of the full budget never decays in a run given 10%
/// of it. A run longer than the full budget holds the value of the full budget's last step.
///
/// Meant as the outermost schedule. Under a wall-clock budget the full budget is not a step
/// count, and the run stops with an error.
public struct TruncatedSchedule: Schedule {
    public let schedule: Schedule
    public let nestingDepth: Int

    public init(_ schedule: Schedule) throws {
        self.schedule = schedule
        nestingDepth = try combinedDepth("truncated", [schedule])
    }

    public var summary: String { "truncated(\(schedule.summary))" }

    public func multiplier(at p: Double, context: ScheduleContext) throws -> Double {
        guard !context.isWallClock else {
            throw EngineError.training("\(summary): needs a budget in steps or epochs (under a wall-clock budget the full budget's length in steps is unknown)")
        }
        var planned = context.atStep(min(context.step, max(1, context.fullBudget) - 1))
        planned.budget = max(1, context.fullBudget)
        planned.fullBudget = planned.budget
        return try schedule.multiplier(at: planned.stepProgress, context: planned)
    }
}
