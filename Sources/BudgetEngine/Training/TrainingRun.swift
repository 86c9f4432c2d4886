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
    /// The weight average the spec asks for (evaluated beside the model).
    let average: WeightAverage?
    /// Swaps evaluation weights (the optimizer's `x`, the average) into the model and back;
    /// nil when there are none.
    private let weightSwap: WeightSwap?

    private(set) var step = 0
    private(set) var points: EvaluationPoints
    private(set) var evaluations: [EvaluationRecord] = []
    private(set) var recentLosses: RecentLossWindow
    private var lossSinceEvaluation = (sum: 0.0, count: 0)
    private(set) var evaluatedAtEnd = false
    private(set) var lastLearningRate = 0.0
    /// The loss of the last step taken.
    private(set) var lastLoss = 0.0

    init(spec: RunSpec) throws {
        try spec.budget.validate()
        try spec.fullBudget.validate()
        try spec.checkpoint.validate()
        try spec.validateAveraging()
        self.spec = spec
        iterator = try BatchIterator(dataset: spec.train, batchSize: spec.batchSize, shuffle: true, seed: spec.seed, augment: true)
        plan = RunPlan(spec: spec, perEpoch: iterator.batchesPerEpoch)

        var initRNG = RandomGenerator(seed: spec.seed, stream: RunSpec.initialisationStream)
        model = try spec.makeModel(&initRNG)
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
        let trained = optimizer.parameters
        average = spec.averaging.map { WeightAverage($0, parameters: trained) }
        weightSwap = spec.averaging != nil || optimizer is EvaluationWeights
            ? try WeightSwap(model: model, parameters: trained, train: spec.train, batchSize: spec.batchSize, seed: spec.seed)
            : nil
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
        // A schedule-free optimizer's x stands in for the model in every measurement.
        try evaluating(optimizerWeights) {
            if due.test, let testEvaluator {
                let (l, a) = try testEvaluator.evaluate(model, loss: loss)
                record.testLoss = l
                record.testAccuracy = a
            }
            if due.gradNorm, let trainEvaluator { record.gradNorm = try trainEvaluator.gradientNorm(model, loss: loss) }
        }
        if due.test, let testEvaluator, let averaged = average?.evaluationWeights {
            try evaluating(averaged) { (record.avgTestLoss, record.avgTestAccuracy) = try testEvaluator.evaluate(model, loss: loss) }
        }
        evaluations.append(record)
        if p >= 1 { evaluatedAtEnd = true }
        return record
    }

    // MARK: Evaluation weights

    /// The optimizer's own weights to evaluate (schedule-free's `x`), if it has any.
    private var optimizerWeights: [Tensor]? { (optimizer as? EvaluationWeights)?.evaluationWeights }

    /// Runs `body` with `weights` swapped into the model (BatchNorm statistics recomputed for
    /// them), or on the model as it is when `weights` is nil.
    private func evaluating(_ weights: [Tensor]?, _ body: () throws -> Void) throws {
        guard let weights, let weightSwap else { return try body() }
        try weightSwap.evaluating(weights, body)
    }

    /// Takes the weights after the step just taken into the average; `reached` is the progress
    /// the step ended at.
    func updateAverage(reached: Double) { average?.update(reached: reached) }

    /// At the end of a run: a schedule-free run leaves its `x` in the model, with BatchNorm
    /// statistics recomputed there (what it evaluated, and what a script's module holds).
    func finish() throws {
        if let weights = optimizerWeights { try weightSwap?.install(weights) }
    }

    // MARK: Checkpoints

    /// The whole state after `step` steps and `elapsed` seconds of training.
    func capture(elapsed: Double) throws -> TrainingState {
        var state = TrainingState(arrays: try model.stateArrays())
        let optimizerState = optimizer.state()
        let (arrays, info) = optimizerState.arrays(names: parameterNames, shapes: optimizer.parameters.map(\.value.shape))
        state.arrays.merge(arrays) { a, _ in a }
        state.info.merge(info) { a, _ in a }
        // The parameters saved are the ones evaluated (schedule-free's x; its y is rebuilt from
        // x and z when the optimizer's state is loaded).
        for (name, weights) in zip(parameterNames, optimizerWeights ?? []) { state.arrays[name] = NamedArray(weights) }
        if let saved = average?.capture(names: parameterNames) {
            state.arrays.merge(saved.arrays) { a, _ in a }
            state.info.merge(saved.info) { a, _ in a }
        }
        state.arrays["run.recent_losses"] = NamedArray(shape: [recentLosses.values.count], values: .float64(recentLosses.values))
        let evaluationsJSON = try JSONEncoder.exact.encode(evaluations)
        state.info.merge([
            "run.step": String(step), "run.elapsed": "\(elapsed)",
            "run.recent_next": String(recentLosses.next), "run.recent_filled": String(recentLosses.filled),
            "run.loss_since_evaluation": "\(lossSinceEvaluation.sum)", "run.steps_since_evaluation": String(lossSinceEvaluation.count),
            "run.evaluated_at_end": evaluatedAtEnd ? "1" : "0", "run.last_lr": "\(lastLearningRate)",
            "run.evaluations": String(decoding: evaluationsJSON, as: UTF8.self),
            "run.fingerprint": fingerprint,
        ]) { a, _ in a }
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
        try average?.restore(state, names: parameterNames)
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
        if step % plan.perEpoch != 0 { iterator.seek(epoch: step / plan.perEpoch, batch: step % plan.perEpoch) }
        let elapsed = try state.number("run.elapsed")
        _ = points.due(at: plan.reached(steps: step, elapsed: elapsed))
        return elapsed
    }

    /// What must agree between a checkpoint and the run resuming from it.
    private var fingerprint: String {
        "seed \(spec.seed), \(spec.budget) of \(plan.budgetSteps.map { "\($0) steps" } ?? "wall clock"), batch \(spec.batchSize), "
            + "\(spec.train.count) training examples, \(model.summary) with \(model.parameterCount) parameters, \(spec.optimizer.description)"
            + (spec.averaging.map { ", average \($0)" } ?? "")
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
