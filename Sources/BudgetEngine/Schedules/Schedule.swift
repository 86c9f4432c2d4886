/// What a schedule may look at besides progress.
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

    public init(step: Int, budget: Int, fullBudget: Int, epoch: Int, stepsPerEpoch: Int, baseLearningRate: Double) {
        self.step = step
        self.budget = budget
        self.fullBudget = fullBudget
        self.epoch = epoch
        self.stepsPerEpoch = stepsPerEpoch
        self.baseLearningRate = baseLearningRate
    }
}

/// A learning-rate schedule: a pure function from progress `p = step / budget ∈ [0, 1)` to a
/// multiplier of the base learning rate. Holding no mutable state is what makes a resumed
/// run land on exactly the rate it would have had.
public protocol Schedule: Sendable {
    /// How the schedule reads in tables and messages, e.g. `linear(final=0)`.
    var summary: String { get }
    func multiplier(at progress: Double, context: ScheduleContext) throws -> Double
}

/// `m(p) = 1`: the learning rate never changes.
public struct ConstantSchedule: Schedule {
    public init() {}
    public var summary: String { "constant" }
    public func multiplier(at progress: Double, context: ScheduleContext) -> Double { 1 }
}

/// `m(p) = 1 − (1 − final) · p`: linear decay from 1 to `final` at the end of the budget, the
/// paper's recommended budget-aware schedule.
public struct LinearSchedule: Schedule {
    public var final: Double
    public init(final: Double = 0) { self.final = final }
    public var summary: String { final == 0 ? "linear" : "linear(final=\(final))" }
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
}
