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
    private let validationEvaluator: Evaluator?
    /// The weight average the spec asks for (evaluated beside the model).
    let average: WeightAverage?
    /// Swaps evaluation weights (the optimizer's `x`, the average) into the model and back;
    /// nil when there are none.
    private let weightSwap: WeightSwap?

    /// The run's own accounts: step, evaluations, recent losses.
    private(set) var ledger: RunLedger
    var step: Int { ledger.step }
    var evaluations: [EvaluationRecord] { ledger.evaluations }
    /// The loss of the last step taken.
    private(set) var lastLoss = 0.0
    /// The last measurement, reused when several runs of a trunk evaluate at the same step.
    private var lastMeasurement: (step: Int, test: Bool, gradNorm: Bool, record: EvaluationRecord)?

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
        try given.validateAveraging()
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
        let trained = optimizer.parameters
        average = spec.averaging.map { WeightAverage($0, parameters: trained) }
        weightSwap = spec.averaging != nil || optimizer is EvaluationWeights
            ? try WeightSwap(model: model, parameters: trained, train: spec.train, batchSize: spec.batchSize, seed: spec.seed)
            : nil
        let evaluationBatch = max(spec.batchSize, 256)
        testEvaluator = try spec.test.map { try Evaluator(dataset: $0, batchSize: evaluationBatch) }
        validationEvaluator = try spec.validation.map { try Evaluator(dataset: $0, batchSize: evaluationBatch) }
        trainEvaluator = spec.gradNormAt.isEmpty ? nil : try Evaluator(dataset: spec.probeData ?? spec.train, batchSize: evaluationBatch)
        ledger = RunLedger(spec: spec, plan: plan, model: model)
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
        lastLoss = batchLoss
        guard batchLoss.isFinite else {
            ledger.recordDivergence(learningRate: lr)
            return false
        }
        _ = try model.backward(loss.backward())
        if spec.logsStepGradientNorm { lastGradientNorm = Self.gradientNorm(optimizer.parameters) }
        optimizer.step(learningRate: Float(lr))
        ledger.recordStep(loss: batchLoss, learningRate: lr)
        return true
    }

    /// Evaluates whatever is due at progress `p`; returns the record, if anything was due.
    func evaluateIfDue(at p: Double) throws -> EvaluationRecord? {
        try evaluateIfDue(at: p, for: &ledger)
    }

    /// Evaluates what `ledger` (this run's, or a branch's of a trunk) has due at progress `p`.
    func evaluateIfDue(at p: Double, for ledger: inout RunLedger) throws -> EvaluationRecord? {
        guard var due = ledger.evaluationDue(at: p) else { return nil }
        try measure(&due.record, test: due.test, gradNorm: due.gradNorm)
        ledger.append(due.record)
        return due.record
    }

    /// Fills in the measurements of `record` at the current weights (the same step's are
    /// measured once, whichever runs ask for them). Reads nothing of `ledger`, which the
    /// caller may be changing.
    private func measure(_ record: inout EvaluationRecord, test: Bool, gradNorm: Bool) throws {
        if let last = lastMeasurement, last.step == record.step, last.test || !test, last.gradNorm || !gradNorm {
            if test {
                (record.testLoss, record.testAccuracy) = (last.record.testLoss, last.record.testAccuracy)
                (record.valLoss, record.valAccuracy) = (last.record.valLoss, last.record.valAccuracy)
                (record.avgTestLoss, record.avgTestAccuracy) = (last.record.avgTestLoss, last.record.avgTestAccuracy)
            }
            if gradNorm { record.gradNorm = last.record.gradNorm }
            return
        }
        // A schedule-free optimizer's x stands in for the model in every measurement.
        try evaluating(optimizerWeights) {
            if test, let testEvaluator {
                let (l, a) = try testEvaluator.evaluate(model, loss: loss)
                record.testLoss = l
                record.testAccuracy = a
            }
            if test, let validationEvaluator { (record.valLoss, record.valAccuracy) = try validationEvaluator.evaluate(model, loss: loss) }
            if gradNorm, let trainEvaluator { record.gradNorm = try trainEvaluator.gradientNorm(model, loss: loss) }
        }
        if test, let testEvaluator, let averaged = average?.evaluationWeights {
            try evaluating(averaged) { (record.avgTestLoss, record.avgTestAccuracy) = try testEvaluator.evaluate(model, loss: loss) }
        }
        lastMeasurement = (record.step, test, gradNorm, record)
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
    func capture(elapsed: Double) throws -> TrainingState { try capture(ledger: ledger, elapsed: elapsed) }

    /// The state of the run `ledger` keeps account of (this run, or a branch of its trunk):
    /// the weights and optimizer state, which the runs of a trunk share, and the ledger's own.
    func capture(ledger: RunLedger, elapsed: Double) throws -> TrainingState {
        var state = TrainingState(arrays: try model.stateArrays())
        let optimizerState = optimizer.state()
        let (arrays, info) = optimizerState.arrays(names: parameterNames, shapes: optimizer.parameters.map(\.value.shape))
        let accounts = try ledger.state(elapsed: elapsed)
        state.arrays.merge(arrays.merging(accounts.arrays) { a, _ in a }) { a, _ in a }
        state.info.merge(info.merging(accounts.info) { a, _ in a }) { a, _ in a }
        // The parameters saved are the ones evaluated (schedule-free's x; its y is rebuilt from
        // x and z when the optimizer's state is loaded).
        for (name, weights) in zip(parameterNames, optimizerWeights ?? []) { state.arrays[name] = NamedArray(weights) }
        if let saved = average?.capture(names: parameterNames) {
            state.arrays.merge(saved.arrays) { a, _ in a }
            state.info.merge(saved.info) { a, _ in a }
        }
        state.info["run.identity"] = identity
        if let continuedFrom { state.info["run.continued_from"] = String(continuedFrom) }
        return state
    }

    /// Continues from `state` (taken by `capture` of a run of the same spec); returns the
    /// training seconds it had run.
    func restore(_ state: TrainingState) throws -> Double {
        let elapsed = try ledger.restore(state)
        try model.loadStateArrays(state.arrays)
        try optimizer.load(OptimizerState(from: state, names: parameterNames, template: optimizer.state()))
        try average?.restore(state, names: parameterNames)
        continuedFrom = state.info["run.continued_from"].flatMap { Int($0) }
        if step % plan.perEpoch != 0 { iterator.seek(epoch: step / plan.perEpoch, batch: step % plan.perEpoch) }
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
        ledger.continueAt(step: savedStep, lastLearningRate: try state.number("run.last_lr"))
        continuedFrom = savedStep
        if step % plan.perEpoch != 0 { iterator.seek(epoch: step / plan.perEpoch, batch: step % plan.perEpoch) }
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
