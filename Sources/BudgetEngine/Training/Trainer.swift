import Foundation

/// Runs one budgeted training run: for `step = 0 ..< budget`, draws a batch, asks the schedule
/// for the multiplier at `p = step / budget`, and takes one optimizer step at
/// `base_lr · multiplier`. Evaluations and probes happen at the progress points the spec names.
///
/// Nothing in the loop allocates once the first batch has sized the buffers; the only call out
/// of the engine per step is the schedule (which may be a user's Lua function).
public final class Trainer {
    public let spec: RunSpec
    public weak var observer: TrainingObserver?
    /// Set from another thread (e.g. a signal handler) to stop at the next step.
    nonisolated(unsafe) public var stopRequested = false

    public init(spec: RunSpec, observer: TrainingObserver? = nil) {
        self.spec = spec
        self.observer = observer
    }

    /// Trains and evaluates. Errors in the user's model or schedule are thrown; a diverging
    /// loss ends the run with status `.diverged` rather than an error.
    public func run() throws -> RunResult {
        try spec.budget.validate()
        try spec.fullBudget.validate()
        let iterator = try BatchIterator(
            dataset: spec.train, batchSize: spec.batchSize, shuffle: true, seed: spec.seed, augment: true)
        let perEpoch = iterator.batchesPerEpoch
        let budgetSteps = spec.budget.steps(perEpoch: perEpoch)
        let fullSteps = spec.fullBudget.steps(perEpoch: perEpoch) ?? budgetSteps
        // A wall-clock budget's length; used only when `budgetSteps` is nil (a seconds budget).
        let wallClock: Double = { if case let .seconds(s) = spec.budget { return s } else { return .infinity } }()

        var initRNG = RandomGenerator(seed: spec.seed, stream: RunSpec.initialisationStream)
        let model = try spec.makeModel(&initRNG)
        model.setTraining(true)
        model.chooseParallelStrategy()
        skipUnneededInputGradients(of: model)
        let loss = spec.makeLoss()
        let parameters = model.parameters
        let optimizer = spec.optimizer.make(for: parameters)
        // Zeroed once here; from then on each optimizer step leaves them zero.
        for p in parameters { p.gradient.zero() }
        let baseLR = spec.optimizer.learningRate
        let testEvaluator = try spec.test.map { try Evaluator(dataset: $0, batchSize: max(spec.batchSize, 256)) }
        let trainEvaluator = spec.gradNormAt.isEmpty ? nil : try Evaluator(dataset: spec.probeData ?? spec.train, batchSize: max(spec.batchSize, 256))

        var checkpoints = ProgressCheckpoints(evaluateAt: spec.evaluateAt, gradNormAt: spec.gradNormAt)
        var evaluations: [EvaluationRecord] = []
        // The last 10% of the steps, but at most 10,000 (a huge budget must not allocate its size).
        var recentLosses = RecentLossWindow(capacity: min(10_000, max(1, (budgetSteps ?? 1000) / 10)))
        var lossSinceEvaluation = (sum: 0.0, count: 0)
        var status = RunStatus.ok
        var message: String?
        var lastLR = 0.0
        var trainingSeconds = 0.0
        var step = 0
        var evaluatedAtEnd = false

        func evaluate(at progress: Double, gradNorm wantGradNorm: Bool, test wantTest: Bool) throws {
            var record = EvaluationRecord(step: step, progress: progress)
            if lossSinceEvaluation.count > 0 { record.trainLoss = lossSinceEvaluation.sum / Double(lossSinceEvaluation.count) }
            lossSinceEvaluation = (0, 0)
            if wantTest, let testEvaluator {
                let (l, a) = try testEvaluator.evaluate(model, loss: loss)
                record.testLoss = l
                record.testAccuracy = a
            }
            if wantGradNorm, let trainEvaluator { record.gradNorm = try trainEvaluator.gradientNorm(model, loss: loss) }
            evaluations.append(record)
            observer?.didEvaluate(record)
        }

        var scheduleNanoseconds: UInt64 = 0
        var firstStepTime: Double?
        let gemmSecondsBefore = GEMMProfiler.seconds
        var evaluationGEMMSeconds = 0.0
        var clockStart = DispatchTime.now().uptimeNanoseconds
        func elapsed() -> Double { Double(DispatchTime.now().uptimeNanoseconds - clockStart) / 1e9 }

        training: while !stopRequested {
            let progress: Double
            if let budgetSteps {
                if step >= budgetSteps { break }
                progress = Double(step) / Double(budgetSteps)
            } else {
                let e = trainingSeconds + elapsed()
                if e >= wallClock { break }
                progress = e / wallClock
            }
            let epoch = step / perEpoch
            if step % perEpoch == 0 { iterator.start(epoch: epoch) }
            iterator.next()

            let context = ScheduleContext(
                step: step, budget: budgetSteps ?? step + 1, fullBudget: fullSteps ?? step + 1,
                epoch: epoch, stepsPerEpoch: perEpoch, baseLearningRate: baseLR, isWallClock: budgetSteps == nil)
            if step == 0 { firstStepTime = Date().timeIntervalSince1970 }
            let scheduleStart = DispatchTime.now().uptimeNanoseconds
            let lr = baseLR * (try spec.schedule.checkedMultiplier(at: progress, context: context))
            scheduleNanoseconds += DispatchTime.now().uptimeNanoseconds - scheduleStart

            let output = try model.forward(iterator.inputs)
            let batchLoss = try loss.forward(output, labels: iterator.labels)
            guard batchLoss.isFinite else {
                status = .diverged
                message = "training loss became \(batchLoss) at step \(step) (learning rate \(lr))"
                lastLR = lr
                break training
            }
            _ = try model.backward(loss.backward())
            optimizer.step(learningRate: Float(lr))
            lastLR = lr
            recentLosses.add(batchLoss)
            lossSinceEvaluation.sum += batchLoss
            lossSinceEvaluation.count += 1
            step += 1

            let now = trainingSeconds + elapsed()
            observer?.didStep(StepRecord(
                step: step - 1, progress: progress, epoch: epoch, learningRate: lr, loss: batchLoss,
                budgetSteps: budgetSteps, elapsed: now))

            let reached = budgetSteps.map { Double(step) / Double($0) } ?? min(now / wallClock, 1)
            let due = checkpoints.due(at: reached)
            if due.test || due.gradNorm {
                trainingSeconds = now
                let gemmBeforeEvaluation = GEMMProfiler.seconds
                try evaluate(at: reached, gradNorm: due.gradNorm, test: due.test)
                evaluationGEMMSeconds += GEMMProfiler.seconds - gemmBeforeEvaluation
                if reached >= 1 { evaluatedAtEnd = true }
                clockStart = DispatchTime.now().uptimeNanoseconds
            }
        }
        trainingSeconds += elapsed()

        // A wall-clock run (or one that diverged or was stopped) still owes its final evaluation.
        if status == .ok, !stopRequested, !evaluatedAtEnd {
            let due = checkpoints.due(at: 1)
            if due.test || due.gradNorm { try evaluate(at: 1, gradNorm: due.gradNorm, test: due.test) }
        }
        let last = evaluations.last(where: { $0.testAccuracy != nil })
        return RunResult(
            status: status, steps: step, seconds: trainingSeconds, finalLearningRate: lastLR,
            trainLoss: recentLosses.mean, testLoss: last?.testLoss, testAccuracy: last?.testAccuracy,
            gradNorm: evaluations.last(where: { $0.gradNorm != nil })?.gradNorm,
            evaluations: evaluations, message: message, scheduleSeconds: Double(scheduleNanoseconds) / 1e9,
            gemmSeconds: GEMMProfiler.isEnabled ? GEMMProfiler.seconds - gemmSecondsBefore - evaluationGEMMSeconds : nil,
            firstStepTime: firstStepTime)
    }

    /// Nothing needs the gradient with respect to the data, nor with respect to the output of
    /// parameter-free layers that come first (`Flatten`, say), so the first layer with
    /// parameters skips its input gradient: one GEMM per step less (the largest, for an MLP).
    private func skipUnneededInputGradients(of model: Layer) { _ = skipInputGradients(from: model) }

    /// Walks the layers the input meets first, in order; returns whether the layers after
    /// `layer` may skip their input gradients too (nothing up to here has parameters).
    private func skipInputGradients(from layer: Layer) -> Bool {
        if layer.chainsChildren {
            for child in layer.children where !skipInputGradients(from: child) { return false }
            return true
        }
        if let optional = layer as? InputGradientOptional { optional.needsInputGradient = false }
        return layer.parameters.isEmpty
    }
}

/// The progress points still to come, for evaluations and gradient-norm probes.
struct ProgressCheckpoints {
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

/// Mean of the last `capacity` losses, kept in a fixed ring (no allocation per step).
struct RecentLossWindow {
    private var values: [Double]
    private var next = 0
    private var filled = 0

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
}
