import Foundation

/// Runs one budgeted training run: for `step = 0 ..< budget`, draws a batch, asks the schedule
/// for the multiplier at `p = step / budget`, and takes one optimizer step at
/// `base_lr · multiplier`. Evaluations and probes happen at the progress points the spec names;
/// checkpoints at the points its `checkpoint` policy names, and when a stop is requested.
///
/// Nothing in the loop allocates once the first batch has sized the buffers; the only call out
/// of the engine per step is the schedule (which may be a user's Lua function).
public final class Trainer {
    public let spec: RunSpec
    public weak var observer: TrainingObserver?
    /// Where checkpoints go; without one the run saves nothing.
    public var checkpointSink: CheckpointSink?
    /// The state to continue from (a checkpoint of a run of the same spec). Without one, a
    /// spec's `continuing` state starts the run instead (see `TrainingRun.continueFrom`).
    public var resumeState: TrainingState?
    /// Receives the run's state once it has trained its whole budget (status `ok`), after its
    /// last evaluation: what a later, larger budget continues from.
    public var finalStateSink: CheckpointSink?
    /// Set from another thread to stop at the next step (as `StopRequest` does for all runs).
    nonisolated(unsafe) public var stopRequested = false
    /// The model as the last `run()` left it (for saving or inspecting it afterwards).
    public private(set) var trainedModel: Layer?
    /// Runs that share their first steps with this one (see `Branch`); ignored when the run
    /// resumes from a checkpoint (their accounts from before it are not there).
    public var branches: [Branch] = []

    /// A run that shares its first `steps` steps with the one being trained: the same initial
    /// weights, data order and settings, and the same learning rate at each of those steps
    /// (its schedule planned for its own budget). The trainer keeps the branch's accounts
    /// (its progress, evaluations, metrics) alongside its own, and after `steps` steps hands
    /// the branch's state to `sink`: a checkpoint from which the branch continues on its own,
    /// bit for bit as if it had trained from the start.
    public struct Branch {
        public var spec: RunSpec
        public var steps: Int
        public var observer: TrainingObserver?
        public var sink: CheckpointSink

        public init(spec: RunSpec, steps: Int, observer: TrainingObserver?, sink: CheckpointSink) {
            self.spec = spec
            self.steps = steps
            self.observer = observer
            self.sink = sink
        }
    }

    public init(spec: RunSpec, observer: TrainingObserver? = nil) {
        self.spec = spec
        self.observer = observer
    }

    /// Trains and evaluates. Errors in the user's model or schedule are thrown; a diverging
    /// loss ends the run with status `.diverged` rather than an error, a stop request with
    /// `.interrupted` (after a checkpoint, when there is a sink).
    public func run() throws -> RunResult {
        let run = try TrainingRun(spec: spec)
        trainedModel = run.model
        let resumedFrom = try resumeState.map { try run.restore($0) }
        if resumedFrom == nil, let continuing = spec.continuing { try run.continueFrom(continuing) }
        var clock = RunClock(elapsed: resumedFrom ?? 0)
        var instruments = Instrumentation()
        var checkpoints = CheckpointClock(policy: spec.checkpoint, reached: run.plan.reached(steps: run.step, elapsed: clock.elapsed), elapsed: clock.elapsed)
        var status = RunStatus.ok
        var followers = resumedFrom == nil ? branches.map { BranchFollower($0, perEpoch: run.plan.perEpoch, model: run.model) } : []

        while let progress = run.plan.progress(step: run.step, elapsed: clock.elapsed) {
            if stopRequested || StopRequest.isRequested {
                status = .interrupted
                try saveCheckpoint(run, clock: &clock)
                break
            }
            if instruments.firstStepTime == nil { instruments.firstStepTime = Date().timeIntervalSince1970 }
            let lr = try instruments.timeSchedule { try run.learningRate(at: progress) }
            guard try run.takeStep(learningRate: lr) else {
                status = .diverged
                break
            }
            observer?.didStep(StepRecord(
                step: run.step - 1, progress: progress, epoch: (run.step - 1) / run.plan.perEpoch, learningRate: lr,
                loss: run.lastLoss, budgetSteps: run.plan.budgetSteps, elapsed: clock.elapsed, gradNorm: run.lastGradientNorm))
            let reached = run.plan.reached(steps: run.step, elapsed: clock.elapsed)
            run.updateAverage(reached: reached)
            if let record = try clock.paused({ try instruments.excludingGEMM { try run.evaluateIfDue(at: reached) } }) {
                observer?.didEvaluate(record)
            }
            if !followers.isEmpty { try follow(&followers, run: run, learningRate: lr, clock: &clock, instruments: &instruments) }
            if checkpointSink != nil, reached < 1, checkpoints.due(at: reached, elapsed: clock.elapsed) {
                try saveCheckpoint(run, clock: &clock)
            }
        }
        // A wall-clock run still owes its final evaluation.
        if status == .ok, !run.ledger.evaluatedAtEnd, let record = try run.evaluateIfDue(at: 1) { observer?.didEvaluate(record) }
        if status == .ok { try run.finish() }
        if status == .ok, let finalStateSink { try finalStateSink.save(run.capture(elapsed: clock.elapsed)) }
        return result(of: run, status: status, seconds: clock.elapsed, instruments: instruments, resumed: resumedFrom != nil)
    }

    private func saveCheckpoint(_ run: TrainingRun, clock: inout RunClock) throws {
        guard let checkpointSink else { return }
        let elapsed = clock.elapsed
        try clock.paused { try checkpointSink.save(run.capture(elapsed: elapsed)) }
    }

    private func result(of run: TrainingRun, status: RunStatus, seconds: Double, instruments: Instrumentation, resumed: Bool) -> RunResult {
        let last = run.evaluations.last(where: { $0.testAccuracy != nil })
        let lastAveraged = run.evaluations.last(where: { $0.avgTestAccuracy != nil })
        var message: String?
        if status == .diverged {
            message = "training loss became \(run.lastLoss) at step \(run.step) (learning rate \(run.ledger.lastLearningRate))"
        }
        var result = RunResult(
            status: status, steps: run.step, seconds: seconds, finalLearningRate: run.ledger.lastLearningRate,
            trainLoss: run.ledger.recentLosses.mean, testLoss: last?.testLoss, testAccuracy: last?.testAccuracy,
            gradNorm: run.evaluations.last(where: { $0.gradNorm != nil })?.gradNorm,
            evaluations: run.evaluations, message: message,
            scheduleSeconds: Double(instruments.scheduleNanoseconds) / 1e9,
            gemmSeconds: instruments.trainingGEMMSeconds, firstStepTime: instruments.firstStepTime,
            resumedFromStep: resumed ? resumeStep : nil,
            trunkSteps: resumeState?.info["run.trunk_steps"].flatMap { Int($0) },
            avgTestLoss: lastAveraged?.avgTestLoss, avgTestAccuracy: lastAveraged?.avgTestAccuracy,
            continuedFromStep: run.continuedFrom, budgetSteps: run.plan.budgetSteps,
            flops: run.flops(from: run.continuedFrom ?? 0, to: run.step))
        let validated = run.evaluations.last(where: { $0.valAccuracy != nil })
        (result.valLoss, result.valAccuracy) = (validated?.valLoss, validated?.valAccuracy)
        return result
    }

    /// Keeps the accounts of the branches still on the trunk for the step just taken; hands
    /// each its checkpoint when it reaches its branch point.
    private func follow(
        _ followers: inout [BranchFollower], run: TrainingRun, learningRate lr: Double, clock: inout RunClock,
        instruments: inout Instrumentation
    ) throws {
        let elapsed = clock.elapsed
        for i in followers.indices {
            let f = followers[i]
            f.ledger.recordStep(loss: run.lastLoss, learningRate: lr)
            f.branch.observer?.didStep(StepRecord(
                step: run.step - 1, progress: Double(run.step - 1) / Double(f.budgetSteps), epoch: (run.step - 1) / run.plan.perEpoch,
                learningRate: lr, loss: run.lastLoss, budgetSteps: f.budgetSteps, elapsed: elapsed))
            let reached = Double(run.step) / Double(f.budgetSteps)
            if let record = try clock.paused({ try instruments.excludingGEMM { try run.evaluateIfDue(at: reached, for: &f.ledger) } }) {
                f.branch.observer?.didEvaluate(record)
            }
            if run.step == f.branch.steps {
                var state = try run.capture(ledger: f.ledger, elapsed: elapsed)
                state.info["run.trunk_steps"] = String(f.branch.steps)
                try clock.paused { try f.branch.sink.save(state) }
            }
        }
        followers.removeAll { $0.branch.steps <= run.step }
    }

    /// A branch and its accounts while it follows the trunk.
    private final class BranchFollower {
        let branch: Branch
        var ledger: RunLedger
        let budgetSteps: Int

        init(_ branch: Branch, perEpoch: Int, model: Layer) {
            self.branch = branch
            let plan = RunPlan(spec: branch.spec, perEpoch: perEpoch)
            ledger = RunLedger(spec: branch.spec, plan: plan, model: model)
            budgetSteps = max(plan.budgetSteps ?? 1, 1)
        }
    }

    private var resumeStep: Int? { resumeState.flatMap { $0.info["run.step"] }.flatMap { Int($0) } }
}
