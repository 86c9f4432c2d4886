import Foundation

/// The live state of one run: model, optimizer, data position and what has been measured so
/// far. `Trainer` drives it step by step; `capture` and `restore` turn it into the
/// `TrainingState` a checkpoint holds and back, so that a resumed run continues bit for bit.
///
/// The data position needs no saving: epoch `e` is shuffled from `(seed, e)` and each batch's
/// augmentation from `(seed, e, batch)`, so step `s` alone says where the iterator stands.
final class TrainingRun {
    let spec: RunSpec
    let plan: RunPlan
    let model: Layer
    let loss: Loss
    let optimizer: Optimizer
    let iterator: BatchIterator
    let baseLearningRate: Double
    private let parameterNames: [String]
    private let testEvaluator: Evaluator?
    private let trainEvaluator: Evaluator?

    private(set) var step = 0
    private(set) var points: EvaluationPoints
    private(set) var evaluations: [EvaluationRecord] = []
    private(set) var recentLosses: RecentLossWindow
    private var lossSinceEvaluation = (sum: 0.0, count: 0)
    private(set) var evaluatedAtEnd = false
    private(set) var lastLearningRate = 0.0
    /// The loss of the last step taken.
    private(set) var lastLoss = 0.0
    /// The minibatch gradient norm of the last step, when the spec asks for it.
    private(set) var lastGradientNorm: Double?
    /// Training FLOPs of one example (`FLOPCount`); nil when the shapes could not be counted.
    let flopsPerExample: Double?
    /// The step this run continued another run's state from (`continueFrom`).
    private(set) var continuedFrom: Int?

    init(spec given: RunSpec) throws {
        try given.budget.validate()
        try given.fullBudget.validate()
        try given.checkpoint.validate()
        iterator = try BatchIterator(dataset: given.train, batchSize: given.batchSize, shuffle: true, seed: given.seed, augment: true)

        var initRNG = RandomGenerator(seed: given.seed, stream: RunSpec.initialisationStream)
        let built = try given.makeModel(&initRNG)
        model = built
        // FLOPs from the layer shapes; a model that does not fit its data fails at its first
        // step with the layer named, so a failed count only leaves the FLOPs unknown here.
        let counted = try? FLOPCount.trainingFLOPsPerExample(built, sampleShape: given.train.sampleShape)
        flopsPerExample = counted
        var spec = given
        if spec.budget.needsResolution || spec.fullBudget.needsResolution {
            let perExample = { () throws -> Double in
                try counted ?? FLOPCount.trainingFLOPsPerExample(built, sampleShape: given.train.sampleShape)
            }
            spec.budget = try spec.budget.resolved(batchSize: spec.batchSize, flopsPerExample: perExample)
            spec.fullBudget = try spec.fullBudget.resolved(batchSize: spec.batchSize, flopsPerExample: perExample)
        }
        self.spec = spec
        plan = RunPlan(spec: spec, perEpoch: iterator.batchesPerEpoch)
        model.setTraining(true)
        model.chooseParallelStrategy()
        Self.skipUnneededInputGradients(of: model)
        loss = spec.makeLoss()
        let named = try model.namedParameters()
        parameterNames = named.map(\.name)
        optimizer = spec.optimizer.make(for: named.map(\.parameter))
        // Zeroed once here; from then on each optimizer step leaves them zero.
        for p in optimizer.parameters { p.gradient.zero() }
        baseLearningRate = spec.optimizer.learningRate
        let evaluationBatch = max(spec.batchSize, 256)
        testEvaluator = try spec.test.map { try Evaluator(dataset: $0, batchSize: evaluationBatch) }
        trainEvaluator = spec.gradNormAt.isEmpty ? nil : try Evaluator(dataset: spec.probeData ?? spec.train, batchSize: evaluationBatch)
        points = EvaluationPoints(evaluateAt: spec.evaluateAt, gradNormAt: spec.gradNormAt)
        // The last 10% of the steps, but at most 10,000 (a huge budget must not allocate its size).
        recentLosses = RecentLossWindow(capacity: min(10_000, max(1, (plan.budgetSteps ?? 1000) / 10)))
    }

    /// The learning rate of the next step, at progress `p`.
    func learningRate(at p: Double) throws -> Double {
        baseLearningRate * (try spec.schedule.checkedMultiplier(at: p, context: plan.context(step: step, baseLearningRate: baseLearningRate)))
    }

    /// Draws the next batch and takes one optimizer step at `lr`. Returns false, having
    /// changed no weight, when the batch's loss is not finite (the run diverged).
    func takeStep(learningRate lr: Double) throws -> Bool {
        if step % plan.perEpoch == 0 { iterator.start(epoch: step / plan.perEpoch) }
        iterator.next()
        let output = try model.forward(iterator.inputs)
        let batchLoss = try loss.forward(output, labels: iterator.labels)
        lastLearningRate = lr
        lastLoss = batchLoss
        guard batchLoss.isFinite else { return false }
        _ = try model.backward(loss.backward())
        if spec.logsStepGradientNorm { lastGradientNorm = Self.gradientNorm(optimizer.parameters) }
        optimizer.step(learningRate: Float(lr))
        recentLosses.add(batchLoss)
        lossSinceEvaluation.sum += batchLoss
        lossSinceEvaluation.count += 1
        step += 1
        return true
    }

    /// Evaluates whatever is due at progress `p`; returns the record, if anything was due.
    func evaluateIfDue(at p: Double) throws -> EvaluationRecord? {
        let due = points.due(at: p)
        guard due.test || due.gradNorm else { return nil }
        var record = EvaluationRecord(step: step, progress: p)
        if lossSinceEvaluation.count > 0 { record.trainLoss = lossSinceEvaluation.sum / Double(lossSinceEvaluation.count) }
        lossSinceEvaluation = (0, 0)
        if due.test, let testEvaluator {
            let (l, a) = try testEvaluator.evaluate(model, loss: loss)
            record.testLoss = l
            record.testAccuracy = a
        }
        if due.gradNorm, let trainEvaluator { record.gradNorm = try trainEvaluator.gradientNorm(model, loss: loss) }
        evaluations.append(record)
        if p >= 1 { evaluatedAtEnd = true }
        return record
    }

    // MARK: Checkpoints

    /// The whole state after `step` steps and `elapsed` seconds of training.
    func capture(elapsed: Double) throws -> TrainingState {
        var state = TrainingState(arrays: try model.stateArrays())
        let optimizerState = optimizer.state()
        let (arrays, info) = optimizerState.arrays(names: parameterNames, shapes: optimizer.parameters.map(\.value.shape))
        state.arrays.merge(arrays) { a, _ in a }
        state.info.merge(info) { a, _ in a }
        state.arrays["run.recent_losses"] = NamedArray(shape: [recentLosses.values.count], values: .float64(recentLosses.values))
        let evaluationsJSON = try JSONEncoder.exact.encode(evaluations)
        state.info.merge([
            "run.step": String(step), "run.elapsed": "\(elapsed)",
            "run.recent_next": String(recentLosses.next), "run.recent_filled": String(recentLosses.filled),
            "run.loss_since_evaluation": "\(lossSinceEvaluation.sum)", "run.steps_since_evaluation": String(lossSinceEvaluation.count),
            "run.evaluated_at_end": evaluatedAtEnd ? "1" : "0", "run.last_lr": "\(lastLearningRate)",
            "run.evaluations": String(decoding: evaluationsJSON, as: UTF8.self),
            "run.fingerprint": fingerprint, "run.identity": identity,
        ]) { a, _ in a }
        if let continuedFrom { state.info["run.continued_from"] = String(continuedFrom) }
        return state
    }

    /// Continues from `state` (taken by `capture` of a run of the same spec); returns the
    /// training seconds it had run.
    func restore(_ state: TrainingState) throws -> Double {
        guard state.info["run.fingerprint"] == fingerprint else {
            throw EngineError.invalidArgument("checkpoint: it belongs to another run (\(state.info["run.fingerprint"] ?? "no fingerprint")); this run is \(fingerprint)")
        }
        let savedStep = try state.integer("run.step")
        guard savedStep >= 0, plan.budgetSteps.map({ savedStep <= $0 }) ?? true else {
            throw EngineError.invalidArgument("checkpoint: step \(savedStep) is outside this run's budget")
        }
        try model.loadStateArrays(state.arrays)
        try optimizer.load(OptimizerState(from: state, names: parameterNames, template: optimizer.state()))
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
        continuedFrom = state.info["run.continued_from"].flatMap { Int($0) }
        step = savedStep
        if step % plan.perEpoch != 0 { iterator.seek(epoch: step / plan.perEpoch, batch: step % plan.perEpoch) }
        let elapsed = try state.number("run.elapsed")
        _ = points.due(at: plan.reached(steps: step, elapsed: elapsed))
        return elapsed
    }

    /// Continues `state`, the final state of another run (the same seed, batch size, training
    /// set, model and optimizer: its `run.identity`) under this run's larger budget: a
    /// *re-planned continuation*, as a search's `continue = true` trains its survivors.
    ///
    /// Kept: the weights, buffers and random streams, the optimizer's state (momentum, Adam's
    /// moments and step count) and the step count, so the data continues where it stopped
    /// (epoch `step / perEpoch`, batch `step % perEpoch`). Changed: the budget, and with it the
    /// schedule's plan: step `s ≥ saved step` trains at `m(s / budget)` of this run's budget,
    /// not the one the state was trained under. Dropped: the evaluations, the recent-loss
    /// window and the metrics position (this run measures and logs only its own steps), and
    /// the elapsed time (its seconds are its own).
    ///
    /// Only the budget may differ, because it is the one thing the fingerprint check of
    /// `restore` would otherwise refuse that a continuation must change.
    func continueFrom(_ state: TrainingState) throws {
        guard let saved = state.info["run.identity"] else {
            throw EngineError.invalidArgument("continuation: the state has no 'run.identity' (it was not saved by a budgetrain run)")
        }
        guard saved == identity else {
            throw EngineError.invalidArgument("continuation: the state belongs to another run (\(saved)); this run is \(identity)")
        }
        guard let budgetSteps = plan.budgetSteps else {
            throw EngineError.invalidArgument("continuation: needs a budget in steps, epochs, examples or FLOPs, not \(spec.budget)")
        }
        let savedStep = try state.integer("run.step")
        guard savedStep >= 0, savedStep <= budgetSteps else {
            throw EngineError.invalidArgument("continuation: the state is at step \(savedStep), beyond this run's budget of \(budgetSteps) steps")
        }
        try model.loadStateArrays(state.arrays)
        try optimizer.load(OptimizerState(from: state, names: parameterNames, template: optimizer.state()))
        lastLearningRate = try state.number("run.last_lr")
        step = savedStep
        continuedFrom = savedStep
        if step % plan.perEpoch != 0 { iterator.seek(epoch: step / plan.perEpoch, batch: step % plan.perEpoch) }
        _ = points.due(at: plan.reached(steps: step, elapsed: 0))
    }

    /// What must agree between a checkpoint and the run resuming from it.
    private var fingerprint: String {
        "seed \(spec.seed), \(spec.budget) of \(plan.budgetSteps.map { "\($0) steps" } ?? "wall clock"), batch \(spec.batchSize), "
            + "\(spec.train.count) training examples, \(model.summary) with \(model.parameterCount) parameters, \(spec.optimizer.description)"
    }

    /// What must agree between a state and a run continuing it under another budget: the
    /// fingerprint without the budget.
    private var identity: String {
        "seed \(spec.seed), batch \(spec.batchSize), \(spec.train.count) training examples, "
            + "\(model.summary) with \(model.parameterCount) parameters, \(spec.optimizer.description)"
    }

    // MARK: Measurements

    /// `‖g‖₂ = √(Σ gᵢ²)` over every parameter's gradient, each sum of squares taken by BLAS's
    /// `dsdot` (single-precision values, double-precision accumulation).
    static func gradientNorm(_ parameters: [Parameter]) -> Double {
        var sum = 0.0
        for p in parameters { sum += BLAS.sumOfSquares(p.gradient.data, count: p.count) }
        return sum.squareRoot()
    }

    /// Examples drawn by steps `0 ..< steps`: whole epochs of the training set, then the
    /// batches of the last, partial one (its last batch may be short).
    func examplesDrawn(steps: Int) -> Int {
        let count = spec.train.count
        let epochs = steps / plan.perEpoch, rest = steps % plan.perEpoch
        return epochs * count + min(rest * spec.batchSize, count)
    }

    /// Training FLOPs of steps `from ..< to`.
    func flops(from start: Int, to end: Int) -> Double? {
        flopsPerExample.map { $0 * Double(examplesDrawn(steps: end) - examplesDrawn(steps: start)) }
    }

    // MARK: Input gradients

    /// Nothing needs the gradient with respect to the data, nor with respect to the output of
    /// parameter-free layers that come first (`Flatten`, say), so the first layer with
    /// parameters skips its input gradient: one GEMM per step less (the largest, for an MLP).
    private static func skipUnneededInputGradients(of model: Layer) { _ = skipInputGradients(from: model) }

    /// Walks the layers the input meets first, in order; returns whether the layers after
    /// `layer` may skip their input gradients too (nothing up to here has parameters).
    private static func skipInputGradients(from layer: Layer) -> Bool {
        if layer.chainsChildren {
            for child in layer.children where !skipInputGradients(from: child) { return false }
            return true
        }
        if let optional = layer as? InputGradientOptional { optional.needsInputGradient = false }
        return layer.parameters.isEmpty
    }
}

extension JSONEncoder {
    /// Encodes doubles exactly, non-finite ones as strings.
    public static var exact: JSONEncoder {
        let e = JSONEncoder()
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        e.outputFormatting = .sortedKeys
        return e
    }
}

extension JSONDecoder {
    public static var exact: JSONDecoder {
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return d
    }
}
