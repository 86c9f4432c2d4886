/// What a schedule may look at besides progress.
///
/// For a budget in steps or epochs the trainer's context always satisfies
/// `progress == step / budget`; schedules that count steps (warm-up, one-cycle, sequence
/// segments, sampled, truncated) read `step` and `budget` from here. Combinators hand their inner
/// schedule a context of its own, in which the part of the run it covers looks like a whole run.
public struct ScheduleContext: Sendable {
    /// Step about to be taken, `0 ..< budget`.
    public var step: Int
    /// Steps in this run's budget (for a wall-clock budget: the steps taken so far plus one).
    public var budget: Int
    /// Steps in the experiment's full budget (equal to `budget` when no grid is involved).
    public var fullBudget: Int
    /// Epoch the step belongs to (0-based).
    public var epoch: Int
    /// Steps in one epoch.
    public var stepsPerEpoch: Int
    /// The optimizer's base learning rate.
    public var baseLearningRate: Double
    /// True when the budget is wall-clock time: progress is then elapsed time over the budget and
    /// `budget` / `fullBudget` are not step counts, so schedules that count steps use their
    /// continuous form (or throw, when they have none).
    public var isWallClock: Bool
    /// The run's step at which this context's step 0 lies. Zero for the trainer's context;
    /// combinators that run a schedule over a part of the budget move it, so that epoch
    /// boundaries (which belong to the data, not to the part) can still be found.
    var stepOffset = 0

    public init(
        step: Int, budget: Int, fullBudget: Int, epoch: Int, stepsPerEpoch: Int, baseLearningRate: Double,
        isWallClock: Bool = false
    ) {
        self.step = step
        self.budget = budget
        self.fullBudget = fullBudget
        self.epoch = epoch
        self.stepsPerEpoch = stepsPerEpoch
        self.baseLearningRate = baseLearningRate
        self.isWallClock = isWallClock
    }
}

/// A learning-rate schedule: a pure function from progress `p = step / budget ∈ [0, 1)` to a
/// multiplier of the base learning rate. Holding no mutable state is what makes a resumed
/// run land on exactly the rate it would have had.
public protocol Schedule: Sendable {
    /// How the schedule reads in tables and messages, e.g. `linear(final=0.1)`. Only arguments
    /// that differ from their defaults are shown.
    var summary: String { get }
    func multiplier(at progress: Double, context: ScheduleContext) throws -> Double
    /// Levels of schedules inside this one, itself included: 1 for a plain schedule,
    /// `1 + ` the deepest inner schedule's for a combinator (at most `maximumScheduleDepth`).
    var nestingDepth: Int { get }
}

extension Schedule {
    public var nestingDepth: Int { 1 }
}

/// How deep schedules may nest (`warmup(0.1, truncated(sequence{...}))` is 3 levels): far
/// beyond any real schedule. Combinators refuse to nest deeper when they are built, so the
/// recursive `multiplier` and `summary` never overflow the stack.
public let maximumScheduleDepth = 200

/// The nesting depth of a combinator of `inner` schedules named `name`, checked.
func combinedDepth(_ name: String, _ inner: [Schedule]) throws -> Int {
    let depth = 1 + (inner.map(\.nestingDepth).max() ?? 0)
    guard depth <= maximumScheduleDepth else {
        throw invalidScheduleArgument(name, "schedules nest \(depth) levels deep; at most \(maximumScheduleDepth) are allowed")
    }
    return depth
}

/// `m(p) = 1`: the learning rate never changes.
public struct ConstantSchedule: Schedule {
    public init() {}
    public var summary: String { "constant" }
    public func multiplier(at progress: Double, context: ScheduleContext) -> Double { 1 }
}

/// `m(p) = 1 − (1 − final) · p`: linear decay from 1 to `final` at the end of the budget, the
/// paper's recommended budget-aware schedule (Li, Yumer & Ramanan, "Budgeted Training", 2020).
public struct LinearSchedule: Schedule {
    public let final: Double

    /// Linear decay to zero.
    public init() { final = 0 }

    /// Linear decay to `final` (a finite number >= 0).
    public init(final: Double) throws {
        guard final.isFinite, final >= 0 else {
            throw EngineError.invalidArgument("linear: final must be a finite number >= 0, got \(final)")
        }
        self.final = final
    }

    public var summary: String { scheduleSummary("linear", final == 0 ? nil : "final=\(final.formatted)") }
    public func multiplier(at p: Double, context: ScheduleContext) -> Double { 1 - (1 - final) * p }
}

extension Schedule {
    /// The multiplier, checked: a schedule that yields NaN, an infinity or a negative number
    /// stops the run with a message naming the step and the value.
    public func checkedMultiplier(at p: Double, context: ScheduleContext) throws -> Double {
        let m = try multiplier(at: p, context: context)
        guard m.isFinite, m >= 0 else {
            throw EngineError.training("schedule '\(summary)' returned \(m) at step \(context.step) (progress \(p)); a multiplier must be a finite number >= 0")
        }
        return m
    }

    /// The checked multiplier at every step of a budget of `steps` steps, as the trainer would
    /// see them (`p = step / steps`): for previews, reports and tests.
    ///
    /// - Parameters:
    ///   - fullSteps: the experiment's full budget (what `TruncatedSchedule` plans for);
    ///     defaults to `steps`.
    ///   - stepsPerEpoch: epoch length (for `SampledSchedule(every: .epoch)` and epoch
    ///     milestones); defaults to one epoch spanning the larger of the two budgets.
    public func values(steps: Int, fullSteps: Int? = nil, stepsPerEpoch: Int? = nil) throws -> [Double] {
        let full = fullSteps ?? steps
        let perEpoch = stepsPerEpoch ?? max(steps, full)
        // Every value is kept: a budget beyond ten million steps would only exhaust memory.
        guard steps >= 1, steps <= 10_000_000 else {
            throw EngineError.invalidArgument("schedule values: steps must be in 1 ... 10000000, got \(steps)")
        }
        guard full >= 1 else { throw EngineError.invalidArgument("schedule values: fullSteps must be >= 1, got \(full)") }
        guard perEpoch >= 1 else {
            throw EngineError.invalidArgument("schedule values: stepsPerEpoch must be >= 1, got \(perEpoch)")
        }
        return try (0..<steps).map { step in
            let context = ScheduleContext(
                step: step, budget: steps, fullBudget: full, epoch: step / perEpoch, stepsPerEpoch: perEpoch,
                baseLearningRate: 1)
            return try checkedMultiplier(at: context.stepProgress, context: context)
        }
    }
}
