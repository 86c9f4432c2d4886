/// Schedule-free SGD (Defazio et al., *The Road Less Scheduled*, NeurIPS 2024; PyTorch:
/// `schedulefree.SGDScheduleFree`, whose `SGDScheduleFreeReference` the arithmetic follows).
/// With `γ_t` and `c_{t+1}` as in `ScheduleFreeAverage` (warm-up, weighting by `γmax²`), the
/// gradient ∇ taken at the parameters `y_t`, and β the `momentum`:
///
///     g       = ∇ + weight_decay · y_t                  (L2 decay, evaluated at y)
///     z_{t+1} = z_t − γ_t · g
///     x_{t+1} = (1 − c_{t+1}) · x_t + c_{t+1} · z_{t+1}
///     y_{t+1} = β · x_{t+1} + (1 − β) · z_{t+1}          the new parameters
///
/// The run evaluates, and its checkpoints hold as `model.*`, the average `x`; BatchNorm statistics
/// are recomputed at `x` before it is evaluated. β = 0 evaluates the Polyak–Ruppert average of
/// plain SGD, β = 1 is primal averaging (the paper's two limits). Defaults: momentum 0.9,
/// weight_decay 0, warmup 0 steps; lr has none (the authors suggest 10–50× a classical SGD rate).
///
/// State per parameter: `z` and `x` (`optim.<name>.z`, `optim.<name>.x`); `y` is rebuilt from them.
public final class SGDScheduleFree: Optimizer, EvaluationWeights {
    public struct Options: OptimizerSpec {
        public var learningRate: Double
        public var momentum: Double
        public var weightDecay: Double
        /// Steps of linear warm-up (the reference's `warmup_steps`).
        public var warmup: Int

        public init(learningRate: Double, momentum: Double = 0.9, weightDecay: Double = 0, warmup: Int = 0) throws {
            try validateScheduleFree("sgd_schedulefree", learningRate: learningRate, beta: momentum, weightDecay: weightDecay, warmup: warmup)
            self.learningRate = learningRate
            self.momentum = momentum
            self.weightDecay = weightDecay
            self.warmup = warmup
        }

        public func make(for parameters: [Parameter]) -> Optimizer { SGDScheduleFree(parameters: parameters, options: self) }
        public var description: String {
            "SGDScheduleFree(lr=\(learningRate), momentum=\(momentum), weight_decay=\(weightDecay), warmup=\(warmup))"
        }
        public var settings: [String: Double] {
            ["lr": learningRate, "momentum": momentum, "weight_decay": weightDecay, "warmup": Double(warmup)]
        }
        public var providesEvaluationWeights: Bool { true }
    }

    static let kind = "sgd_schedulefree"
    public let parameters: [Parameter]
    public let options: Options
    private let z: [Tensor]
    private let x: [Tensor]
    private var average: ScheduleFreeAverage

    public init(parameters: [Parameter], options: Options) {
        self.parameters = parameters
        self.options = options
        z = parameterCopies(parameters)
        x = parameterCopies(parameters)
        average = ScheduleFreeAverage(warmup: options.warmup)
    }

    /// The average `x`.
    public var evaluationWeights: [Tensor]? { x }

    public func step(learningRate: Float) {
        let (rate, c) = average.advance(learningRate: Double(learningRate))
        let gamma = Float(rate), keep = Float(1 - c), weight = Float(c)
        let wd = Float(options.weightDecay), beta = Float(options.momentum), complement = Float(1 - options.momentum)
        for (index, p) in parameters.enumerated() {
            let theta = p.value.data, grad = p.gradient.data, zs = z[index].data, xs = x[index].data
            parallelRanges(p.count, minimumPerThread: 1 << 16) { range in
                for i in range {
                    let g = grad[i] + wd * theta[i]
                    let zi = zs[i] - gamma * g
                    zs[i] = zi
                    xs[i] = xs[i] * keep + weight * zi
                    grad[i] = 0
                }
                scheduleFreeInterpolate(into: theta, x: xs, z: zs, beta: beta, complement: complement, range: range)
            }
        }
    }

    public func state() -> OptimizerState {
        OptimizerState(kind: Self.kind, step: average.steps, buffers: ["z": z.asArrays, "x": x.asArrays], scalars: average.scalars)
    }

    public func load(_ state: OptimizerState) throws {
        try loadScheduleFree(
            state, kind: Self.kind, parameters: parameters, buffers: [("z", z), ("x", x)], average: &average,
            beta: options.momentum)
    }
}
