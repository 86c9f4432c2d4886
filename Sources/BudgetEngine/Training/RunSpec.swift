/// Everything one training run needs. A grid of runs shares most of it; each run gets a fresh
/// model from `makeModel`, seeded from `seed`.
public struct RunSpec {
    /// The stream of the run's seed that draws the model's initial weights (other streams
    /// shuffle the data and drive augmentation, so none perturbs another).
    public static let initialisationStream: UInt64 = 0x1417

    /// Builds the model, drawing its initial weights from the generator.
    public var makeModel: (inout RandomGenerator) throws -> Layer
    public var makeLoss: () -> Loss
    public var optimizer: OptimizerSpec
    public var train: Dataset
    public var test: Dataset?
    public var batchSize: Int
    /// This run's budget.
    public var budget: Budget
    /// The experiment's full budget (budget-unaware schedules are planned for it).
    public var fullBudget: Budget
    public var schedule: Schedule
    public var seed: UInt64
    /// Progress points after which the test set is evaluated (1.0 = the end of the run).
    public var evaluateAt: [Double]
    /// Progress points after which the full-batch gradient norm is measured.
    public var gradNormAt: [Double]
    /// Examples the gradient-norm probe sums over (the whole training set when nil).
    public var probeData: Dataset?
    /// When the run hands its state to the trainer's checkpoint sink.
    public var checkpoint: CheckpointPolicy = .none
    /// Held-out examples evaluated at every test evaluation point, beside the test set: what a
    /// tuning rule may look at (hyperparameters picked on the test set overstate its accuracy).
    public var validation: Dataset?
    /// A weight average evaluated beside the model (EMA, SWA, LAWA); nil for none.
    public var averaging: WeightAveraging?
    /// Measure the minibatch gradient norm at every step (`StepRecord.gradNorm`): one pass over
    /// the gradients, no extra forward or backward pass.
    public var logsStepGradientNorm = false
    /// Start from this state, the final state of a run of the same seed, batch size, training
    /// set, model and optimizer under a smaller budget, and continue it under this spec's
    /// budget and schedule (a re-planned continuation: see `TrainingRun.continueFrom`).
    public var continuing: TrainingState?
    /// Keep the run's final state (a search continues its survivors from it): the experiment
    /// layer gives such a run's trainer a `finalStateSink`.
    public var keepsFinalState = false

    public init(
        makeModel: @escaping (inout RandomGenerator) throws -> Layer,
        makeLoss: @escaping () -> Loss = { CrossEntropy() },
        optimizer: OptimizerSpec, train: Dataset, test: Dataset?, batchSize: Int,
        budget: Budget, fullBudget: Budget? = nil, schedule: Schedule, seed: UInt64,
        evaluateAt: [Double] = [1.0], gradNormAt: [Double] = [], probeData: Dataset? = nil
    ) {
        self.makeModel = makeModel
        self.makeLoss = makeLoss
        self.optimizer = optimizer
        self.train = train
        self.test = test
        self.batchSize = batchSize
        self.budget = budget
        self.fullBudget = fullBudget ?? budget
        self.schedule = schedule
        self.seed = seed
        self.evaluateAt = evaluateAt
        self.gradNormAt = gradNormAt
        self.probeData = probeData
    }

    /// The same spec with budgets in examples or FLOPs turned into steps (see
    /// `Budget.resolved`); FLOPs are counted on a model built once from a throwaway generator,
    /// and only when a budget is in FLOPs.
    public func resolvingBudgets() throws -> RunSpec {
        guard budget.needsResolution || fullBudget.needsResolution else { return self }
        var cached: Double?
        let perExample: () throws -> Double = {
            if let cached { return cached }
            var rng = RandomGenerator(seed: seed, stream: RunSpec.initialisationStream)
            let value = try FLOPCount.trainingFLOPsPerExample(try makeModel(&rng), sampleShape: train.sampleShape)
            cached = value
            return value
        }
        var copy = self
        copy.budget = try budget.resolved(batchSize: batchSize, flopsPerExample: perExample)
        copy.fullBudget = try fullBudget.resolved(batchSize: batchSize, flopsPerExample: perExample)
        return copy
    }
}

/// How a run ended.
public enum RunStatus: String, Sendable, Codable {
    /// Trained the whole budget.
    case ok
    /// The training loss became NaN or infinite; training stopped there.
    case diverged
    /// An error stopped the run (its message is in `RunResult.message`).
    case failed
    /// A stop request (a signal) ended the run before its budget; it is no result, and it
    /// continues from its checkpoint.
    case interrupted
}

/// When a run saves its state: every `fraction` of its budget and/or every `seconds` of
/// training, whichever comes first (and always when a stop is requested, if it has a sink).
public struct CheckpointPolicy: Sendable, Equatable {
    public var fraction: Double?
    public var seconds: Double?

    /// No periodic checkpoints (a stop request still saves one where there is a sink).
    public static let none = CheckpointPolicy()
    /// Experiments checkpoint every 10 minutes of training.
    public static let experimentDefault = CheckpointPolicy(seconds: 600)

    public init(fraction: Double? = nil, seconds: Double? = nil) {
        self.fraction = fraction
        self.seconds = seconds
    }

    public func validate() throws {
        if let f = fraction, !(f >= 1e-4 && f <= 1) {
            throw EngineError.invalidArgument("checkpoint: every must be a fraction of the budget in [0.0001, 1], got \(f)")
        }
        if let s = seconds, !(s >= 1 && s.isFinite) {
            throw EngineError.invalidArgument("checkpoint: seconds must be a number of seconds >= 1, got \(s)")
        }
    }
}

/// One optimizer step, as observers see it.
public struct StepRecord: Sendable {
    public var step: Int
    public var progress: Double
    public var epoch: Int
    public var learningRate: Double
    public var loss: Double
    /// Steps in the run's budget (nil for a wall-clock budget).
    public var budgetSteps: Int?
    /// Seconds of training so far.
    public var elapsed: Double
    /// ‖∇L_B‖₂, the norm of the minibatch loss's gradient this step applied (before the
    /// optimizer adds weight decay), when `RunSpec.logsStepGradientNorm` asks for it.
    public var gradNorm: Double? = nil
}

/// An evaluation at a progress point.
public struct EvaluationRecord: Sendable, Codable {
    public var step: Int
    public var progress: Double
    public var testLoss: Double?
    public var testAccuracy: Double?
    /// Mean training loss over the steps since the previous evaluation.
    public var trainLoss: Double?
    /// Full-batch gradient norm, when a probe asked for it at this point.
    public var gradNorm: Double?
    /// Loss and accuracy on the validation set (`RunSpec.validation`), when it has one.
    public var valLoss: Double?
    public var valAccuracy: Double?
    /// Test loss and accuracy of the weight average (`RunSpec.averaging`), once it has begun.
    public var avgTestLoss: Double?
    public var avgTestAccuracy: Double?
}

/// The outcome of a run.
public struct RunResult: Sendable {
    public var status: RunStatus
    public var steps: Int
    /// Training time in seconds (evaluation and probes excluded).
    public var seconds: Double
    /// Learning rate of the last step taken.
    public var finalLearningRate: Double
    /// Mean training loss over the last 10% of the steps (at least one, at most 10,000).
    public var trainLoss: Double
    public var testLoss: Double?
    public var testAccuracy: Double?
    /// The last measured full-batch gradient norm.
    public var gradNorm: Double?
    public var evaluations: [EvaluationRecord]
    /// Why the run diverged or failed.
    public var message: String?
    /// Seconds spent inside the schedule (a Lua function schedule's cost shows here).
    public var scheduleSeconds: Double = 0
    /// Seconds inside sgemm during training, when `GEMMProfiler` is enabled.
    public var gemmSeconds: Double?
    /// Wall-clock time (seconds since 1970) at which the first step began.
    public var firstStepTime: Double?
    /// The step a resumed run continued from (nil for a run trained from its start).
    public var resumedFromStep: Int?
    /// Steps of this run that a trunk it shared them with trained (nil: none).
    public var trunkSteps: Int?
    /// Loss and accuracy on the validation set at the last evaluation that measured them.
    public var valLoss: Double?
    public var valAccuracy: Double?
    /// The weight average's test loss and accuracy at the last evaluation that measured them.
    public var avgTestLoss: Double?
    public var avgTestAccuracy: Double?
    /// The step a continuation (`RunSpec.continuing`) started from: the steps before it were
    /// trained by the run it continues, under that run's budget.
    public var continuedFromStep: Int?
    /// Steps in the budget (nil for a wall-clock budget), after a budget in examples or FLOPs
    /// was resolved to steps.
    public var budgetSteps: Int?
    /// Training FLOPs of the steps this run took itself (a continuation's inherited steps not
    /// included), counted as `FLOPCount` says: `6 · MACs` per example drawn; nil when the
    /// model's shapes could not be counted.
    public var flops: Double?
}

/// Receives a run's state at its checkpoints (the experiment layer writes it to a file).
public protocol CheckpointSink: AnyObject {
    /// Saves `state`, taken at a step boundary; an error stops the run.
    func save(_ state: TrainingState) throws
}

/// Receives the run's progress; the CLI draws its progress bar and the experiment writes its
/// metrics from these calls.
public protocol TrainingObserver: AnyObject {
    func didStep(_ record: StepRecord)
    func didEvaluate(_ record: EvaluationRecord)
}
