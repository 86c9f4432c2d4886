import Dispatch

/// Where a run stands against its budget: the progress `p` of each step, and when the budget
/// is spent. A step budget plans `p = step / budget`; a wall-clock budget `p = elapsed / S`.
struct RunPlan {
    let perEpoch: Int
    /// Steps in the budget; nil for a wall-clock budget.
    let budgetSteps: Int?
    /// Steps in the full budget (budget-unaware schedules are planned for it).
    let fullSteps: Int?
    /// A wall-clock budget's length in seconds (infinite for a step budget).
    let wallClock: Double

    init(spec: RunSpec, perEpoch: Int) {
        self.perEpoch = perEpoch
        budgetSteps = spec.budget.steps(perEpoch: perEpoch)
        fullSteps = spec.fullBudget.steps(perEpoch: perEpoch) ?? budgetSteps
        if case let .seconds(s) = spec.budget { wallClock = s } else { wallClock = .infinity }
    }

    /// The progress at which step `step` trains, or nil when the budget is spent.
    func progress(step: Int, elapsed: Double) -> Double? {
        if let budgetSteps { return step < budgetSteps ? Double(step) / Double(budgetSteps) : nil }
        return elapsed < wallClock ? elapsed / wallClock : nil
    }

    /// The progress reached once `steps` steps are done.
    func reached(steps: Int, elapsed: Double) -> Double {
        budgetSteps.map { Double(steps) / Double($0) } ?? min(elapsed / wallClock, 1)
    }

    func context(step: Int, baseLearningRate: Double) -> ScheduleContext {
        ScheduleContext(
            step: step, budget: budgetSteps ?? step + 1, fullBudget: fullSteps ?? step + 1, epoch: step / perEpoch,
            stepsPerEpoch: perEpoch, baseLearningRate: baseLearningRate, isWallClock: budgetSteps == nil)
    }
}

/// Seconds of training: a stopwatch that evaluations pause, so they do not count against a
/// wall-clock budget or in the run's reported time.
struct RunClock {
    /// Seconds accumulated before the current lap (a resumed run starts with its saved time).
    private var accumulated: Double
    private var lapStart = DispatchTime.now().uptimeNanoseconds

    init(elapsed: Double) { accumulated = elapsed }

    var elapsed: Double { accumulated + Double(DispatchTime.now().uptimeNanoseconds - lapStart) / 1e9 }

    /// Runs `body` with the clock stopped.
    mutating func paused<T>(_ body: () throws -> T) rethrows -> T {
        accumulated = elapsed
        defer { lapStart = DispatchTime.now().uptimeNanoseconds }
        return try body()
    }
}

/// What the run measures about itself besides the model: time in the schedule (a Lua
/// function's cost), time in sgemm, when the first step began.
struct Instrumentation {
    var scheduleNanoseconds: UInt64 = 0
    var firstStepTime: Double?
    private let gemmSecondsBefore = GEMMProfiler.seconds
    private var evaluationGEMMSeconds = 0.0

    mutating func timeSchedule<T>(_ body: () throws -> T) rethrows -> T {
        let start = DispatchTime.now().uptimeNanoseconds
        defer { scheduleNanoseconds += DispatchTime.now().uptimeNanoseconds - start }
        return try body()
    }

    /// Runs an evaluation, keeping its sgemm time out of the training's.
    mutating func excludingGEMM<T>(_ body: () throws -> T) rethrows -> T {
        let before = GEMMProfiler.seconds
        defer { evaluationGEMMSeconds += GEMMProfiler.seconds - before }
        return try body()
    }

    var trainingGEMMSeconds: Double? {
        GEMMProfiler.isEnabled ? GEMMProfiler.seconds - gemmSecondsBefore - evaluationGEMMSeconds : nil
    }
}

/// The progress points still to come, for evaluations and gradient-norm probes.
struct EvaluationPoints {
    private var evaluateAt: [Double]
    private var gradNormAt: [Double]

    init(evaluateAt: [Double], gradNormAt: [Double]) {
        self.evaluateAt = evaluateAt.sorted()
        self.gradNormAt = gradNormAt.sorted()
    }

    /// Which measurements are due once progress has reached `p`; consumes them.
    mutating func due(at p: Double) -> (test: Bool, gradNorm: Bool) {
        let eps = 1e-9
        var test = false, grad = false
        while let first = evaluateAt.first, first <= p + eps { evaluateAt.removeFirst(); test = true }
        while let first = gradNormAt.first, first <= p + eps { gradNormAt.removeFirst(); grad = true }
        return (test, grad)
    }
}

/// When to checkpoint: every `fraction` of the budget's progress and/or every `seconds` of
/// training, whichever comes first.
struct CheckpointClock {
    let policy: CheckpointPolicy
    private var nextProgress: Double
    private var lastSeconds: Double

    /// A clock for a run that has reached progress `p` after `elapsed` seconds.
    init(policy: CheckpointPolicy, reached p: Double, elapsed: Double) {
        self.policy = policy
        nextProgress = policy.fraction.map { f in (p / f + 1e-9).rounded(.down) * f + f } ?? .infinity
        lastSeconds = elapsed
    }

    /// Whether a checkpoint is due at progress `p` after `elapsed` seconds; if so, the clock
    /// moves on to the next one.
    mutating func due(at p: Double, elapsed: Double) -> Bool {
        let byProgress = p + 1e-9 >= nextProgress
        let bySeconds = policy.seconds.map { elapsed - lastSeconds >= $0 } ?? false
        guard byProgress || bySeconds else { return false }
        if let f = policy.fraction { while nextProgress <= p + 1e-9 { nextProgress += f } }
        lastSeconds = elapsed
        return true
    }
}

/// Mean of the last `capacity` losses, kept in a fixed ring (no allocation per step).
struct RecentLossWindow {
    private(set) var values: [Double]
    private(set) var next = 0
    private(set) var filled = 0

    init(capacity: Int) { values = Array(repeating: 0, count: capacity) }

    mutating func add(_ x: Double) {
        values[next] = x
        next = (next + 1) % values.count
        filled = min(filled + 1, values.count)
    }

    var mean: Double {
        guard filled > 0 else { return .nan }
        var s = 0.0
        for i in 0..<filled { s += values[i] }
        return s / Double(filled)
    }

    /// Restores a saved window of the same capacity.
    mutating func restore(values saved: [Double], next: Int, filled: Int) throws {
        guard saved.count == values.count, (0..<values.count).contains(next), (0...values.count).contains(filled) else {
            throw EngineError.invalidArgument("checkpoint: the recent-loss window (\(saved.count) values, next \(next), filled \(filled)) does not fit this run's (\(values.count))")
        }
        values = saved
        self.next = next
        self.filled = filled
    }
}

extension RunSpec {
    /// Steps in one epoch of this run's training data.
    public var stepsPerEpoch: Int { (train.count + max(batchSize, 1) - 1) / max(batchSize, 1) }

    /// Steps in this run's budget (nil for a wall-clock budget).
    public var budgetSteps: Int? { budget.steps(perEpoch: stepsPerEpoch) }

    /// The learning rate of step `step` (within the budget), exactly as the trainer computes
    /// it; nil for a wall-clock budget, whose rates depend on time.
    public func plannedLearningRate(at step: Int) throws -> Double? {
        let plan = RunPlan(spec: self, perEpoch: stepsPerEpoch)
        guard let steps = plan.budgetSteps, step >= 0, step < steps else { return nil }
        let base = optimizer.learningRate
        return base * (try schedule.checkedMultiplier(at: Double(step) / Double(steps), context: plan.context(step: step, baseLearningRate: base)))
    }
}
