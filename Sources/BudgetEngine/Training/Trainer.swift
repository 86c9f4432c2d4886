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
            if let record = try clock.paused({ try instruments.excludingGEMM { try run.evaluateIfDue(at: reached) } }) {
                observer?.didEvaluate(record)
            }
            if checkpointSink != nil, reached < 1, checkpoints.due(at: reached, elapsed: clock.elapsed) {
                try saveCheckpoint(run, clock: &clock)
            }
        }
        // A wall-clock run still owes its final evaluation.
        if status == .ok, !run.evaluatedAtEnd, let record = try run.evaluateIfDue(at: 1) { observer?.didEvaluate(record) }
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
        var message: String?
        if status == .diverged {
            message = "training loss became \(run.lastLoss) at step \(run.step) (learning rate \(run.lastLearningRate))"
        }
        return RunResult(
            status: status, steps: run.step, seconds: seconds, finalLearningRate: run.lastLearningRate,
            trainLoss: run.recentLosses.mean, testLoss: last?.testLoss, testAccuracy: last?.testAccuracy,
            gradNorm: run.evaluations.last(where: { $0.gradNorm != nil })?.gradNorm,
            evaluations: run.evaluations, message: message,
            scheduleSeconds: Double(instruments.scheduleNanoseconds) / 1e9,
            gemmSeconds: instruments.trainingGEMMSeconds, firstStepTime: instruments.firstStepTime,
            resumedFromStep: resumed ? resumeStep : nil, continuedFromStep: run.continuedFrom,
            budgetSteps: run.plan.budgetSteps, flops: run.flops(from: run.continuedFrom ?? 0, to: run.step))
    }

    private var resumeStep: Int? { resumeState.flatMap { $0.info["run.step"] }.flatMap { Int($0) } }
}
