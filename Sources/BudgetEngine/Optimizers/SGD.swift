/// Stochastic gradient descent exactly as PyTorch's `torch.optim.SGD` (dampening 0):
///
///     g ← ∇ + weight_decay · θ                 (coupled weight decay)
///     b ← momentum · b + g   (b ← g on the first step)
///     d ← g + momentum · b   if nesterov, else b
///     θ ← θ − lr · d
public final class SGD: Optimizer {
    public struct Options: OptimizerSpec {
        public var learningRate: Double
        public var momentum: Double = 0
        public var nesterov = false
        public var weightDecay: Double = 0

        public init(learningRate: Double, momentum: Double = 0, nesterov: Bool = false, weightDecay: Double = 0) throws {
            guard learningRate >= 0, learningRate.isFinite else { throw EngineError.invalidArgument("sgd: lr must be a finite number >= 0, got \(learningRate)") }
            guard momentum >= 0, momentum.isFinite else { throw EngineError.invalidArgument("sgd: momentum must be >= 0, got \(momentum)") }
            guard weightDecay >= 0, weightDecay.isFinite else { throw EngineError.invalidArgument("sgd: weight_decay must be >= 0, got \(weightDecay)") }
            guard !nesterov || momentum > 0 else { throw EngineError.invalidArgument("sgd: nesterov needs momentum > 0") }
            self.learningRate = learningRate
            self.momentum = momentum
            self.nesterov = nesterov
            self.weightDecay = weightDecay
        }

        public func make(for parameters: [Parameter]) -> Optimizer { SGD(parameters: parameters, options: self) }
        public var description: String { "SGD(lr=\(learningRate), momentum=\(momentum), nesterov=\(nesterov), weight_decay=\(weightDecay))" }
        public var settings: [String: Double] {
            ["lr": learningRate, "momentum": momentum, "nesterov": nesterov ? 1 : 0, "weight_decay": weightDecay]
        }
    }

    public let parameters: [Parameter]
    public let options: Options
    private let momentumBuffers: [Tensor]
    private var steps = 0

    public init(parameters: [Parameter], options: Options) {
        self.parameters = parameters
        self.options = options
        momentumBuffers = options.momentum > 0 ? zeroBuffers(like: parameters) : []
    }

    public func step(learningRate lr: Float) {
        let mu = Float(options.momentum), wd = Float(options.weightDecay)
        let first = steps == 0, nesterov = options.nesterov
        for (index, p) in parameters.enumerated() {
            let theta = p.value.data, grad = p.gradient.data
            // One branch-free loop per case, so the compiler vectorises each.
            guard mu > 0 else {
                parallelRanges(p.count, minimumPerThread: 1 << 16) { range in
                    for i in range {
                        theta[i] -= lr * (grad[i] + wd * theta[i])
                        grad[i] = 0
                    }
                }
                continue
            }
            let buf = momentumBuffers[index].data
            let decay: Float = first ? 0 : mu  // the first step sets b = g
            parallelRanges(p.count, minimumPerThread: 1 << 16) { range in
                if nesterov {
                    for i in range {
                        let g = grad[i] + wd * theta[i]
                        let b = decay * buf[i] + g
                        buf[i] = b
                        theta[i] -= lr * (g + mu * b)
                        grad[i] = 0
                    }
                } else {
                    for i in range {
                        let b = decay * buf[i] + grad[i] + wd * theta[i]
                        buf[i] = b
                        theta[i] -= lr * b
                        grad[i] = 0
                    }
                }
            }
        }
        steps += 1
    }

    public func state() -> OptimizerState {
        OptimizerState(kind: "sgd", step: steps, buffers: ["momentum": momentumBuffers.asArrays])
    }

    public func load(_ state: OptimizerState) throws {
        guard state.kind == "sgd" else { throw EngineError.invalidArgument("sgd: cannot load \(state.kind) state") }
        try momentumBuffers.load(state.buffers["momentum"], name: "momentum", kind: "sgd")
        steps = state.step
    }
}
