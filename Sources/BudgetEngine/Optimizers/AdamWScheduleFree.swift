import Foundation

/// Schedule-free AdamW (Defazio et al., *The Road Less Scheduled*, NeurIPS 2024, Algorithm 1;
/// PyTorch: `schedulefree.AdamWScheduleFree`, whose `AdamWScheduleFreeReference` the arithmetic
/// follows). With `γ_t` and `c_{t+1}` as in `ScheduleFreeAverage` (warm-up, weighting by
/// `γmax²`), the gradient ∇ taken at the parameters `y_t`, β₁ the interpolation and β₂ the
/// second-moment decay, at step t = 1, 2, ...:
///
///     z ← z_t − γ_t · λ · y_t                               decoupled weight decay, evaluated at y
///     v_t = β₂ · v_{t−1} + (1 − β₂) · ∇²
///     z_{t+1} = z − γ_t · ∇ / (√(v_t / (1 − β₂ᵗ)) + ε)      bias-corrected second moment
///     x_{t+1} = (1 − c_{t+1}) · x_t + c_{t+1} · z_{t+1}
///     y_{t+1} = β₁ · x_{t+1} + (1 − β₁) · z_{t+1}            the new parameters
///
/// There is no first moment: β₁'s interpolation takes the place of momentum. The bias
/// correction is the reference implementation's since its version 1.3 (inside the square
/// root); the paper's Algorithm 1 instead folds `√(1 − β₂ᵗ)` into `γ_t`, and so into the
/// weights `c` (the package keeps that variant as `AdamWScheduleFreePaper`). The run evaluates
/// `x`, with BatchNorm statistics recomputed there. Defaults (the reference's): lr 0.0025,
/// betas (0.9, 0.999), eps 1e-8, weight_decay 0, warmup 0 steps.
///
/// State per parameter: `z`, `x` and `exp_avg_sq` (v); `y` is rebuilt from `x` and `z`.
public final class AdamWScheduleFree: Optimizer, EvaluationWeights {
    public struct Options: OptimizerSpec {
        public var learningRate: Double
        public var beta1: Double
        public var beta2: Double
        public var epsilon: Double
        public var weightDecay: Double
        /// Steps of linear warm-up (the reference's `warmup_steps`).
        public var warmup: Int

        public init(
            learningRate: Double = 0.0025, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8,
            weightDecay: Double = 0, warmup: Int = 0
        ) throws {
            try validateScheduleFree("adamw_schedulefree", learningRate: learningRate, beta: beta1, weightDecay: weightDecay, warmup: warmup)
            guard beta2 >= 0, beta2 < 1 else { throw EngineError.invalidArgument("adamw_schedulefree: beta2 must be in [0, 1), got \(beta2)") }
            guard epsilon >= 0, epsilon.isFinite else { throw EngineError.invalidArgument("adamw_schedulefree: eps must be a finite number >= 0, got \(epsilon)") }
            self.learningRate = learningRate
            self.beta1 = beta1
            self.beta2 = beta2
            self.epsilon = epsilon
            self.weightDecay = weightDecay
            self.warmup = warmup
        }

        public func make(for parameters: [Parameter]) -> Optimizer { AdamWScheduleFree(parameters: parameters, options: self) }
        public var description: String {
            "AdamWScheduleFree(lr=\(learningRate), betas=(\(beta1), \(beta2)), eps=\(epsilon), weight_decay=\(weightDecay), warmup=\(warmup))"
        }
        public var settings: [String: Double] {
            ["lr": learningRate, "beta1": beta1, "beta2": beta2, "eps": epsilon, "weight_decay": weightDecay, "warmup": Double(warmup)]
        }
        public var providesEvaluationWeights: Bool { true }
    }

    static let kind = "adamw_schedulefree"
    public let parameters: [Parameter]
    public let options: Options
    private let z: [Tensor]
    private let x: [Tensor]
    /// `v`: exponential moving average of the squared gradient (PyTorch's `exp_avg_sq`).
    private let secondMoments: [Tensor]
    private var average: ScheduleFreeAverage

    public init(parameters: [Parameter], options: Options) {
        self.parameters = parameters
        self.options = options
        z = parameterCopies(parameters)
        x = parameterCopies(parameters)
        secondMoments = zeroBuffers(like: parameters)
        average = ScheduleFreeAverage(warmup: options.warmup)
    }

    /// The average `x`.
    public var evaluationWeights: [Tensor]? { x }

    public func step(learningRate: Float) {
        let t = Double(average.steps + 1)
        let (rate, c) = average.advance(learningRate: Double(learningRate))
        // Scalars in Double, as the reference computes them in Python floats.
        let gamma = Float(rate), decayStep = Float(rate * options.weightDecay)
        let correction2 = Float(1 - pow(options.beta2, t))
        let keep = Float(1 - c), weight = Float(c)
        let b2 = Float(options.beta2), oneMinusB2 = Float(1 - options.beta2), eps = Float(options.epsilon)
        let beta = Float(options.beta1), complement = Float(1 - options.beta1)
        for (index, p) in parameters.enumerated() {
            let theta = p.value.data, grad = p.gradient.data
            let zs = z[index].data, xs = x[index].data, v = secondMoments[index].data
            parallelRanges(p.count, minimumPerThread: 1 << 15) { range in
                for i in range {
                    let g = grad[i]
                    let vi = v[i] * b2 + oneMinusB2 * (g * g)
                    v[i] = vi
                    let denominator = (vi / correction2).squareRoot() + eps
                    let zi = (zs[i] - decayStep * theta[i]) - gamma * (g / denominator)
                    zs[i] = zi
                    xs[i] = xs[i] * keep + weight * zi
                    grad[i] = 0
                }
                scheduleFreeInterpolate(into: theta, x: xs, z: zs, beta: beta, complement: complement, range: range)
            }
        }
    }

    public func state() -> OptimizerState {
        OptimizerState(
            kind: Self.kind, step: average.steps,
            buffers: ["z": z.asArrays, "x": x.asArrays, "exp_avg_sq": secondMoments.asArrays], scalars: average.scalars)
    }

    public func load(_ state: OptimizerState) throws {
        try loadScheduleFree(
            state, kind: Self.kind, parameters: parameters, buffers: [("z", z), ("x", x), ("exp_avg_sq", secondMoments)],
            average: &average, beta: options.beta1)
    }
}
