/// What the two schedule-free optimizers share (Defazio, Yang, Mehta, Mishchenko, Khaled &
/// Cutkosky, *The Road Less Scheduled*, NeurIPS 2024, Algorithm 1; the reference PyTorch
/// implementation is `schedulefree.SGDScheduleFree` / `AdamWScheduleFree` of
/// facebookresearch/schedule_free). Three sequences per parameter:
///
///     z   the base iterate, which takes the gradient steps
///     x   the average of the z's, the weights to evaluate (`EvaluationWeights`)
///     y = (1 − β) · z + β · x      where the gradient is taken: the model's parameters
///
/// Each step `t = 1, 2, ...`, with `lr_t` the trainer's scheduled rate (`base_lr · multiplier(p)`):
///
///     γ_t     = lr_t · min(1, t / warmup)                 linear warm-up over `warmup` steps
///     γmax_t  = max(γ_1, ..., γ_t)
///     c_{t+1} = γmax_t² / Σ_{i ≤ t} γmax_i²              (0 while the sum is 0)
///     z_{t+1} = z_t − γ_t · d_t                           d: the variant's step direction
///     x_{t+1} = (1 − c_{t+1}) · x_t + c_{t+1} · z_{t+1}
///     y_{t+1} = β · x_{t+1} + (1 − β) · z_{t+1}
///
/// The paper's weight is `c_{t+1} = γ_t² / Σ γ_i²` (Section 4.3, for warm-up); the reference
/// implementation, followed here, weights by the largest rate so far, `γmax`. The two agree
/// whenever the rate never falls (a warm-up, then a constant rate: the paper's setting); under
/// a decaying schedule `γmax` keeps the average moving instead of freezing it as the rate
/// goes to zero. `z₁ = x₁ = y₁` are the initial weights.
///
/// `y` is recomputed from `x` and `z` after every step (as the reference implementation's
/// `...Reference` classes do, not updated in place), so a checkpoint of `z` and `x` restores `y`
/// bit for bit.
struct ScheduleFreeAverage {
    let warmup: Int
    /// Steps taken (`t − 1` of the step being taken).
    private(set) var steps = 0
    /// `γmax` so far (−1 before the first step, as in the reference implementation).
    private(set) var maxRate = -1.0
    /// `Σ γmax_i²` so far.
    private(set) var weightSum = 0.0

    init(warmup: Int) { self.warmup = warmup }

    /// Advances by one step at scheduled rate `lr`: the warmed-up rate `γ_t` and the weight
    /// `c_{t+1}` of the new `z` in the average.
    mutating func advance(learningRate lr: Double) -> (rate: Double, weight: Double) {
        let warm = steps < warmup ? Double(steps + 1) / Double(warmup) : 1
        let rate = lr * warm
        maxRate = max(maxRate, rate)
        let weight = maxRate * maxRate
        weightSum += weight
        steps += 1
        return (rate, weightSum > 0 ? weight / weightSum : 0)
    }

    var scalars: [String: Double] { ["lr_max": maxRate, "weight_sum": weightSum] }

    mutating func load(step: Int, scalars: [String: Double], kind: String) throws {
        guard step >= 0 else { throw EngineError.invalidArgument("\(kind) state: step count \(step) is negative") }
        guard let maxRate = scalars["lr_max"], let weightSum = scalars["weight_sum"], weightSum >= 0, weightSum.isFinite,
              maxRate.isFinite else {
            throw EngineError.invalidArgument("\(kind) state: 'lr_max' and 'weight_sum' must be finite numbers (weight_sum >= 0)")
        }
        steps = step
        self.maxRate = maxRate
        self.weightSum = weightSum
    }
}

/// `y = β · x + (1 − β) · z` for every element: the parameters a schedule-free step leaves (and a
/// restored state rebuilds, with the same arithmetic). `beta` is `Float(β)`, `complement`
/// `Float(1 − β)` (the difference taken in Double).
func scheduleFreeInterpolate(into theta: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, z: UnsafePointer<Float>,
                             beta: Float, complement: Float, range: Range<Int>) {
    for i in range { theta[i] = beta * x[i] + complement * z[i] }
}

/// Copies saved buffers into `z` and `x` (and any others), then sets the parameters to the `y`
/// they imply. Every buffer is validated before anything changes.
func loadScheduleFree(
    _ state: OptimizerState, kind: String, parameters: [Parameter], buffers: [(name: String, tensors: [Tensor])],
    average: inout ScheduleFreeAverage, beta: Double
) throws {
    guard state.kind == kind else { throw EngineError.invalidArgument("\(kind): cannot load \(state.kind) state") }
    for (name, tensors) in buffers { try tensors.validate(state.buffers[name], name: name, kind: kind) }
    try average.load(step: state.step, scalars: state.scalars, kind: kind)
    for (name, tensors) in buffers { try tensors.load(state.buffers[name], name: name, kind: kind) }
    guard let z = buffers.first(where: { $0.name == "z" })?.tensors, let x = buffers.first(where: { $0.name == "x" })?.tensors else { return }
    let b = Float(beta), complement = Float(1 - beta)
    for (index, p) in parameters.enumerated() {
        scheduleFreeInterpolate(into: p.value.data, x: x[index].data, z: z[index].data, beta: b, complement: complement, range: 0..<p.count)
    }
}

/// Copies of the parameters' current values (`z₁ = x₁`: the initial weights).
func parameterCopies(_ parameters: [Parameter]) -> [Tensor] {
    parameters.map { p in
        let t = Tensor(shape: p.value.shape)
        t.copy(from: p.value)
        return t
    }
}

/// Checks the settings both variants share.
func validateScheduleFree(_ kind: String, learningRate: Double, beta: Double, weightDecay: Double, warmup: Int) throws {
    guard learningRate >= 0, learningRate.isFinite else { throw EngineError.invalidArgument("\(kind): lr must be a finite number >= 0, got \(learningRate)") }
    guard beta >= 0, beta <= 1 else { throw EngineError.invalidArgument("\(kind): the interpolation β must be in [0, 1], got \(beta)") }
    guard weightDecay >= 0, weightDecay.isFinite else { throw EngineError.invalidArgument("\(kind): weight_decay must be a finite number >= 0, got \(weightDecay)") }
    guard warmup >= 0 else { throw EngineError.invalidArgument("\(kind): warmup must be a number of steps >= 0, got \(warmup)") }
}
