import Foundation

/// How an Adam variant applies weight decay: the one thing Adam and AdamW differ in.
public protocol AdamWeightDecay {
    /// The optimizer's name in descriptions, e.g. `Adam`.
    static var name: String { get }
    /// The kind of its saved state, e.g. `adam`.
    static var kind: String { get }
    static var defaultWeightDecay: Double { get }
    /// Decoupled (θ ← θ · (1 − lr · weight_decay) before the update) or coupled (added to the
    /// gradient as weight_decay · θ).
    static var isDecoupled: Bool { get }
}

/// Adam's L2 penalty in the gradient.
public enum CoupledWeightDecay: AdamWeightDecay {
    public static let name = "Adam", kind = "adam"
    public static let defaultWeightDecay = 0.0
    public static let isDecoupled = false
}

/// AdamW's decay of the parameters themselves.
public enum DecoupledWeightDecay: AdamWeightDecay {
    public static let name = "AdamW", kind = "adamw"
    public static let defaultWeightDecay = 1e-2
    public static let isDecoupled = true
}

/// Adam exactly as PyTorch's `torch.optim.Adam` (amsgrad off). At step t = 1, 2, ...:
///
///     g ← ∇ + weight_decay · θ                      (coupled weight decay, L2 in the gradient)
///     m ← β₁ · m + (1 − β₁) · g
///     v ← β₂ · v + (1 − β₂) · g²
///     θ ← θ − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
///
/// `m` and `v` start at zero. Defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0.
public typealias Adam = AdamOptimizer<CoupledWeightDecay>

/// AdamW exactly as PyTorch's `torch.optim.AdamW` (amsgrad off): Adam with decoupled weight
/// decay, applied to the parameters before the Adam update at step t = 1, 2, ...:
///
///     θ ← θ · (1 − lr · weight_decay)
///     m ← β₁ · m + (1 − β₁) · ∇
///     v ← β₂ · v + (1 − β₂) · ∇²
///     θ ← θ − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
///
/// The decay follows the scheduled learning rate. Defaults: lr 1e-3, betas (0.9, 0.999),
/// eps 1e-8, weight_decay 1e-2.
public typealias AdamW = AdamOptimizer<DecoupledWeightDecay>

/// Adam and AdamW (see their type aliases for the formulas), told apart by `Decay`.
public final class AdamOptimizer<Decay: AdamWeightDecay>: Optimizer {
    public struct Options: OptimizerSpec {
        public var learningRate: Double
        public var beta1: Double
        public var beta2: Double
        public var epsilon: Double
        public var weightDecay: Double

        public init(
            learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8,
            weightDecay: Double = Decay.defaultWeightDecay
        ) throws {
            try validateAdam(Decay.kind, learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon, weightDecay: weightDecay)
            self.learningRate = learningRate
            self.beta1 = beta1
            self.beta2 = beta2
            self.epsilon = epsilon
            self.weightDecay = weightDecay
        }

        public func make(for parameters: [Parameter]) -> Optimizer { AdamOptimizer(parameters: parameters, options: self) }
        public var description: String {
            "\(Decay.name)(lr=\(learningRate), betas=(\(beta1), \(beta2)), eps=\(epsilon), weight_decay=\(weightDecay))"
        }
        public var settings: [String: Double] {
            ["lr": learningRate, "beta1": beta1, "beta2": beta2, "eps": epsilon, "weight_decay": weightDecay]
        }
    }

    public let parameters: [Parameter]
    public let options: Options
    private let moments: AdamMoments

    public init(parameters: [Parameter], options: Options) {
        self.parameters = parameters
        self.options = options
        moments = AdamMoments(kind: Decay.kind, parameters: parameters)
    }

    public func step(learningRate: Float) {
        moments.step(
            parameters, learningRate: learningRate, beta1: options.beta1, beta2: options.beta2,
            epsilon: options.epsilon, weightDecay: options.weightDecay, decoupled: Decay.isDecoupled)
    }

    public func state() -> OptimizerState { moments.state() }
    public func load(_ state: OptimizerState) throws { try moments.load(state) }
}

/// Checks Adam's settings the way PyTorch does (0 ≤ β < 1, the rest ≥ 0 and finite).
private func validateAdam(
    _ kind: String, learningRate: Double, beta1: Double, beta2: Double, epsilon: Double, weightDecay: Double
) throws {
    guard learningRate >= 0, learningRate.isFinite else { throw EngineError.invalidArgument("\(kind): lr must be a finite number >= 0, got \(learningRate)") }
    guard beta1 >= 0, beta1 < 1 else { throw EngineError.invalidArgument("\(kind): beta1 must be in [0, 1), got \(beta1)") }
    guard beta2 >= 0, beta2 < 1 else { throw EngineError.invalidArgument("\(kind): beta2 must be in [0, 1), got \(beta2)") }
    guard epsilon >= 0, epsilon.isFinite else { throw EngineError.invalidArgument("\(kind): eps must be a finite number >= 0, got \(epsilon)") }
    guard weightDecay >= 0, weightDecay.isFinite else { throw EngineError.invalidArgument("\(kind): weight_decay must be a finite number >= 0, got \(weightDecay)") }
}

/// The first and second moment estimates of Adam and AdamW, and the update both share.
private final class AdamMoments {
    let kind: String
    /// `m`: exponential moving average of the gradient (PyTorch's `exp_avg`).
    let firstMoments: [Tensor]
    /// `v`: exponential moving average of the squared gradient (`exp_avg_sq`).
    let secondMoments: [Tensor]
    /// Steps taken so far (`t` of the step being taken is `steps + 1`).
    var steps = 0

    init(kind: String, parameters: [Parameter]) {
        self.kind = kind
        firstMoments = zeroBuffers(like: parameters)
        secondMoments = zeroBuffers(like: parameters)
    }

    func step(
        _ parameters: [Parameter], learningRate: Float, beta1: Double, beta2: Double, epsilon: Double,
        weightDecay: Double, decoupled: Bool
    ) {
        steps += 1
        let t = Double(steps)
        // Bias corrections in Double, as PyTorch computes them in Python floats.
        let stepSize = Float(Double(learningRate) / (1 - pow(beta1, t)))
        let correction2Root = Float((1 - pow(beta2, t)).squareRoot())
        let b1 = Float(beta1), b2 = Float(beta2), eps = Float(epsilon)
        // One loop for both: the coupled decay adds `gradientDecay · θ` to the gradient; the
        // decoupled decay multiplies θ by `parameterScale`. The unused one is neutral (0 or 1).
        let gradientDecay: Float = decoupled ? 0 : Float(weightDecay)
        let parameterScale: Float = decoupled ? Float(1 - Double(learningRate) * weightDecay) : 1
        for (index, p) in parameters.enumerated() {
            let theta = p.value.data, grad = p.gradient.data
            let m = firstMoments[index].data, v = secondMoments[index].data
            parallelRanges(p.count, minimumPerThread: 1 << 15) { range in
                for i in range {
                    let th = theta[i] * parameterScale
                    let g = grad[i] + gradientDecay * th
                    grad[i] = 0
                    let mi = b1 * m[i] + (1 - b1) * g
                    let vi = b2 * v[i] + (1 - b2) * g * g
                    m[i] = mi
                    v[i] = vi
                    theta[i] = th - stepSize * (mi / (vi.squareRoot() / correction2Root + eps))
                }
            }
        }
    }

    func state() -> OptimizerState {
        OptimizerState(kind: kind, step: steps, buffers: ["exp_avg": firstMoments.asArrays, "exp_avg_sq": secondMoments.asArrays])
    }

    func load(_ state: OptimizerState) throws {
        guard state.kind == kind else { throw EngineError.invalidArgument("\(kind): cannot load \(state.kind) state") }
        guard state.step >= 0 else { throw EngineError.invalidArgument("\(kind) state: step count \(state.step) is negative") }
        try secondMoments.validate(state.buffers["exp_avg_sq"], name: "exp_avg_sq", kind: kind)
        try firstMoments.load(state.buffers["exp_avg"], name: "exp_avg", kind: kind)
        try secondMoments.load(state.buffers["exp_avg_sq"], name: "exp_avg_sq", kind: kind)
        steps = state.step
    }
}
