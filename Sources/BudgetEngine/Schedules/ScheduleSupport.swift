/// Small pieces shared by the schedules: summaries, argument errors, step arithmetic.

/// `name` alone, or `name(a, b)` with the arguments that are present (nil = left at its default).
func scheduleSummary(_ name: String, _ arguments: String?...) -> String {
    let shown = arguments.compactMap { $0 }
    return shown.isEmpty ? name : "\(name)(\(shown.joined(separator: ", ")))"
}

/// The error for a schedule argument out of its domain: `"<schedule>: <message>"`.
func invalidScheduleArgument(_ schedule: String, _ message: String) -> EngineError {
    .invalidArgument("\(schedule): \(message)")
}

/// Slack when comparing progress with a boundary (a milestone, a restart): progress is
/// `step / budget` and boundaries are sums or products of fractions, and neither is exact in
/// binary, so a step landing on a boundary up to rounding counts as having reached it.
let progressTolerance = 1e-12

/// How many of the ascending `boundaries` progress `p` has reached (`boundary <= p`, up to
/// `progressTolerance`).
func reachedCount(of boundaries: [Double], at p: Double) -> Int {
    var low = 0, high = boundaries.count
    while low < high {
        let mid = (low + high) / 2
        if boundaries[mid] <= p + progressTolerance { low = mid + 1 } else { high = mid }
    }
    return low
}

/// The first step of a `budget`-step run whose progress `k / budget` is at least `fraction`
/// (in `0 ... 1`): where a part of the run that starts at that fraction begins. Decided with the
/// same floating-point comparison the progress itself would get, so that `0.3 · 10` rounding to
/// `3.0000000000000004` still starts the part at step 3.
func firstStep(reaching fraction: Double, budget: Int) -> Int {
    guard budget > 0 else { return 0 }
    let total = Double(budget)
    var k = min(budget, max(0, Int((fraction * total).rounded(.up))))
    while k > 0, Double(k - 1) / total >= fraction { k -= 1 }
    while k < budget, Double(k) / total < fraction { k += 1 }
    return k
}

extension ScheduleContext {
    /// `step / budget`: the progress of this context's step.
    var stepProgress: Double { budget > 0 ? Double(step) / Double(budget) : 0 }

    /// The context of a schedule that runs over steps `start ..< end` of this one as a run of
    /// its own, at this context's step (or at `step`, when given): steps count from `start`, the
    /// budget is `end − start`, and the full budget shrinks in the same proportion. Epochs stay
    /// the data's epochs.
    func subRun(from start: Int, to end: Int, at step: Int? = nil) -> ScheduleContext {
        var sub = self
        sub.step = (step ?? self.step) - start
        sub.budget = end - start
        let fraction = budget > 0 ? Double(end - start) / Double(budget) : 1
        sub.fullBudget = max(1, Int((Double(fullBudget) * fraction).rounded()))
        sub.stepOffset = stepOffset + start
        return sub
    }

    /// The same run seen at another of its steps (the epoch follows the step).
    func atStep(_ newStep: Int) -> ScheduleContext {
        var moved = self
        moved.step = newStep
        if stepsPerEpoch > 0 { moved.epoch = max(0, newStep + stepOffset) / stepsPerEpoch }
        return moved
    }
}
