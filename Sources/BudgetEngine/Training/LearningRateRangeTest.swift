import Foundation

/// The learning-rate range test: Smith (2017), *Cyclical Learning Rates for Training Neural
/// Networks*, section 3.3, in the form of fastai's `lr_find`.
///
/// A fresh model (built from the spec's seed, as a run's would be) trains for at most `steps`
/// steps, step `i` at the rate
///
///     lr_i = min · (max / min)^(i / (steps − 1)),   i = 0 ... steps − 1
///
/// (an exponential sweep from `min` to `max`), drawing batches as a run of the spec does. Each
/// step's minibatch loss `ℓ_i` (measured before the step's update) is smoothed by an
/// exponential moving average with bias correction, as fastai does:
///
///     a_i = β · a_{i−1} + (1 − β) · ℓ_i,   a_{−1} = 0,   s_i = a_i / (1 − β^(i+1)),   β = 0.98
///
/// The sweep stops early, after recording the step, when the smoothed loss exceeds 4 times its
/// minimum so far (the loss is exploding: larger rates teach nothing more), or when the loss is
/// not finite (that step is not recorded). The same spec and settings give the same points, bit
/// for bit.
///
/// **The suggested rate** is the rate at the minimum of the smoothed loss, divided by 10: the
/// largest rate at which the loss is still clearly falling, one order of magnitude below the
/// point where it starts to climb (Smith's and fastai's `lr_min` rule). The rate at the
/// steepest descent is noisier (a derivative of a noisy curve), so it is not used.
public enum LearningRateRangeTest {
    public struct Settings: Sendable, Equatable {
        public var minLR: Double
        public var maxLR: Double
        public var steps: Int
        /// The smoothing factor β of the moving average.
        public var beta = 0.98
        /// Stop once the smoothed loss exceeds this many times its minimum.
        public var divergenceFactor = 4.0

        /// The longest sweep allowed (the test is meant to take a few hundred steps).
        public static let maximumSteps = 100_000

        public init(minLR: Double = 1e-6, maxLR: Double = 10, steps: Int = 200) {
            self.minLR = minLR
            self.maxLR = maxLR
            self.steps = steps
        }

        public func validate() throws {
            guard minLR > 0, minLR.isFinite else { throw EngineError.invalidArgument("lr_find: min must be a positive learning rate, got \(minLR)") }
            guard maxLR > minLR, maxLR.isFinite else { throw EngineError.invalidArgument("lr_find: max must be a finite rate above min (\(minLR)), got \(maxLR)") }
            guard steps >= 2, steps <= Self.maximumSteps else {
                throw EngineError.invalidArgument("lr_find: steps must be in 2 ... \(Self.maximumSteps), got \(steps)")
            }
        }
    }

    /// One step of the sweep.
    public struct Point: Sendable, Equatable {
        public var step: Int
        public var learningRate: Double
        public var loss: Double
        public var smoothed: Double
    }

    /// Why the sweep ended.
    public enum Ending: Sendable, Equatable {
        /// Every rate up to `max` was tried.
        case completed
        /// The smoothed loss exceeded `divergenceFactor` times its minimum.
        case lossExploded
        /// The loss became NaN or infinite.
        case lossNotFinite
    }

    public struct Result: Sendable {
        public var points: [Point]
        public var ending: Ending
        /// The point of least smoothed loss (nil when no step was recorded).
        public var minimum: Point?
        /// The suggested base learning rate (see `rule`); nil when no step was recorded.
        public var suggestion: Double?
        /// How `suggestion` was found, in words.
        public static let rule = "the learning rate at the minimum of the smoothed loss, divided by 10"
    }

    /// The rates of the sweep: `steps` rates from `min` to `max`, equally spaced in log scale.
    public static func rates(_ settings: Settings) -> [Double] {
        let ratio = settings.maxLR / settings.minLR
        let last = Double(settings.steps - 1)
        return (0..<settings.steps).map { i in i == settings.steps - 1 ? settings.maxLR : settings.minLR * pow(ratio, Double(i) / last) }
    }

    /// Runs the sweep on `loss(step, lr)`, which takes one step at `lr` and returns that step's
    /// loss (nil when the loss was not finite and nothing was changed).
    public static func sweep(_ settings: Settings, loss: (Int, Double) throws -> Double?) throws -> Result {
        try settings.validate()
        var points: [Point] = []
        var average = 0.0, correction = 1.0
        var ending = Ending.completed
        var minimum: Point?
        for (i, lr) in rates(settings).enumerated() {
            guard let l = try loss(i, lr), l.isFinite else {
                ending = .lossNotFinite
                break
            }
            average = settings.beta * average + (1 - settings.beta) * l
            correction *= settings.beta
            let point = Point(step: i, learningRate: lr, loss: l, smoothed: average / (1 - correction))
            points.append(point)
            if minimum.map({ point.smoothed < $0.smoothed }) ?? true { minimum = point }
            if let m = minimum, point.smoothed > settings.divergenceFactor * m.smoothed {
                ending = .lossExploded
                break
            }
        }
        return Result(points: points, ending: ending, minimum: minimum, suggestion: suggestion(points))
    }

    /// The rule of `Result.rule` on a recorded sweep: the rate of least smoothed loss ÷ 10
    /// (the first such point when several tie).
    public static func suggestion(_ points: [Point]) -> Double? {
        guard var best = points.first else { return nil }
        for p in points where p.smoothed < best.smoothed { best = p }
        return best.learningRate / 10
    }

    /// The range test on a fresh model of `spec` (its model, loss, optimizer, training data,
    /// batch size and seed; its budget, schedule, test data and probes are not used).
    public static func run(_ spec: RunSpec, settings: Settings) throws -> Result {
        try settings.validate()
        var sweepSpec = spec
        sweepSpec.budget = .iterations(settings.steps)
        sweepSpec.fullBudget = .iterations(settings.steps)
        sweepSpec.schedule = ConstantSchedule()
        sweepSpec.test = nil
        sweepSpec.validation = nil
        sweepSpec.evaluateAt = []
        sweepSpec.gradNormAt = []
        sweepSpec.checkpoint = .none
        let run = try TrainingRun(spec: sweepSpec)
        return try sweep(settings) { _, lr in try run.takeStep(learningRate: lr) ? run.lastLoss : nil }
    }
}
