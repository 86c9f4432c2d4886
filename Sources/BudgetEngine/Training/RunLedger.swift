import Foundation

/// What a run keeps account of besides its weights: the step, its budget plan, the evaluation
/// points still to come, the evaluations so far, the recent-loss window and the training loss
/// since the last evaluation. A run has one; a trunk shared by several budgets keeps one for
/// each run it stands in for (see `Trainer.branches`), since the runs see the same steps at
/// different progress.
struct RunLedger {
    let plan: RunPlan
    /// What must agree between a checkpoint and the run resuming from it.
    let fingerprint: String
    private(set) var step = 0
    private(set) var points: EvaluationPoints
    private(set) var evaluations: [EvaluationRecord] = []
    private(set) var recentLosses: RecentLossWindow
    private var lossSinceEvaluation = (sum: 0.0, count: 0)
    private(set) var evaluatedAtEnd = false
    private(set) var lastLearningRate = 0.0

    init(spec: RunSpec, plan: RunPlan, model: Layer) {
        self.plan = plan
        fingerprint = "seed \(spec.seed), \(spec.budget) of \(plan.budgetSteps.map { "\($0) steps" } ?? "wall clock"), batch \(spec.batchSize), "
            + "\(spec.train.count) training examples, \(model.summary) with \(model.parameterCount) parameters, \(spec.optimizer.description)"
        points = EvaluationPoints(evaluateAt: spec.evaluateAt, gradNormAt: spec.gradNormAt)
        // The last 10% of the steps, but at most 10,000 (a huge budget must not allocate its size).
        recentLosses = RecentLossWindow(capacity: min(10_000, max(1, (plan.budgetSteps ?? 1000) / 10)))
    }

    /// A step was taken at `lr` with minibatch loss `loss` (finite).
    mutating func recordStep(loss: Double, learningRate lr: Double) {
        recentLosses.add(loss)
        lossSinceEvaluation.sum += loss
        lossSinceEvaluation.count += 1
        lastLearningRate = lr
        step += 1
    }

    /// A step at `lr` whose loss was not finite: the run ends (diverged) without it.
    mutating func recordDivergence(learningRate lr: Double) { lastLearningRate = lr }

    /// The evaluation due once progress has reached `p`, started (step, progress and the
    /// mean training loss since the last one), with what it must measure; nil when nothing
    /// is due. Consumes the points.
    mutating func evaluationDue(at p: Double) -> (record: EvaluationRecord, test: Bool, gradNorm: Bool)? {
        let due = points.due(at: p)
        guard due.test || due.gradNorm else { return nil }
        var record = EvaluationRecord(step: step, progress: p)
        if lossSinceEvaluation.count > 0 { record.trainLoss = lossSinceEvaluation.sum / Double(lossSinceEvaluation.count) }
        lossSinceEvaluation = (0, 0)
        return (record, due.test, due.gradNorm)
    }

    /// Records a measured evaluation.
    mutating func append(_ record: EvaluationRecord) {
        evaluations.append(record)
        if record.progress >= 1 { evaluatedAtEnd = true }
    }

    /// Starts the accounts at `step`, continuing another run's state under this run's budget
    /// (`TrainingRun.continueFrom`): the evaluation points before it are passed, the evaluations,
    /// loss window and loss since the last evaluation start empty.
    mutating func continueAt(step: Int, lastLearningRate lr: Double) {
        self.step = step
        lastLearningRate = lr
        _ = points.due(at: plan.reached(steps: step, elapsed: 0))
    }

    // MARK: Checkpoints

    /// The ledger as checkpoint state (`run.*`) after `elapsed` seconds of training.
    func state(elapsed: Double) throws -> TrainingState {
        let evaluationsJSON = try JSONEncoder.exact.encode(evaluations)
        return TrainingState(
            arrays: ["run.recent_losses": NamedArray(shape: [recentLosses.values.count], values: .float64(recentLosses.values))],
            info: [
                "run.step": String(step), "run.elapsed": "\(elapsed)",
                "run.recent_next": String(recentLosses.next), "run.recent_filled": String(recentLosses.filled),
                "run.loss_since_evaluation": "\(lossSinceEvaluation.sum)", "run.steps_since_evaluation": String(lossSinceEvaluation.count),
                "run.evaluated_at_end": evaluatedAtEnd ? "1" : "0", "run.last_lr": "\(lastLearningRate)",
                "run.evaluations": String(decoding: evaluationsJSON, as: UTF8.self),
                "run.fingerprint": fingerprint,
            ])
    }

    /// Continues from `state` (a checkpoint of a run of the same spec); returns the training
    /// seconds it had run.
    mutating func restore(_ state: TrainingState) throws -> Double {
        guard state.info["run.fingerprint"] == fingerprint else {
            throw EngineError.invalidArgument("checkpoint: it belongs to another run (\(state.info["run.fingerprint"] ?? "no fingerprint")); this run is \(fingerprint)")
        }
        let savedStep = try state.integer("run.step")
        guard savedStep >= 0, plan.budgetSteps.map({ savedStep <= $0 }) ?? true else {
            throw EngineError.invalidArgument("checkpoint: step \(savedStep) is outside this run's budget")
        }
        guard case let .float64(window) = try state.array("run.recent_losses").values else {
            throw EngineError.invalidArgument("checkpoint: 'run.recent_losses' must hold F64 values")
        }
        try recentLosses.restore(values: window, next: try state.integer("run.recent_next"), filled: try state.integer("run.recent_filled"))
        lossSinceEvaluation = (try state.number("run.loss_since_evaluation"), try state.integer("run.steps_since_evaluation"))
        evaluatedAtEnd = state.info["run.evaluated_at_end"] == "1"
        lastLearningRate = try state.number("run.last_lr")
        do {
            evaluations = try JSONDecoder.exact.decode([EvaluationRecord].self, from: Data((state.info["run.evaluations"] ?? "[]").utf8))
        } catch {
            throw EngineError.invalidArgument("checkpoint: 'run.evaluations' does not read as a list of evaluations")
        }
        step = savedStep
        let elapsed = try state.number("run.elapsed")
        _ = points.due(at: plan.reached(steps: step, elapsed: elapsed))
        return elapsed
    }
}
