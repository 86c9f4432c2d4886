/// Batch normalisation over the channel dimension, as PyTorch's `nn.BatchNorm1d` (input `[N, C]`
/// or `[N, C, L]`) and `nn.BatchNorm2d` (input `[N, C, H, W]`):
///
///     y = γ · (x − μ) / √(σ² + ε) + β       per channel, over the N·(spatial) values of that channel
///
/// In training mode μ and σ² are the batch mean and biased batch variance, and the running
/// statistics move towards them: `running_mean ← (1 − m)·running_mean + m·μ`,
/// `running_var ← (1 − m)·running_var + m·σ²·M/(M − 1)` (the unbiased variance, M values per
/// channel). In evaluation mode the running statistics are used instead. γ starts at 1, β at 0,
/// the running mean at 0 and the running variance at 1; momentum m = 0.1, ε = 1e-5.
///
/// The batch statistics take one read of the input from memory (see `batchStatistics`), the
/// output a second; x̂ is not stored but recomputed from the input in backward.
///
/// Backward in training mode (with x̂ the normalised input and 1/σ̂ = 1/√(σ² + ε)):
///
///     dβ = Σ dy,   dγ = Σ dy·x̂,   dx = γ/σ̂ · (dy − mean(dy) − x̂ · mean(dy·x̂))
///
/// and in evaluation mode, where μ and σ² are constants, `dx = γ/√(running_var + ε) · dy`.
public final class BatchNorm: Layer {
    /// Which inputs the layer takes (the `1d` / `2d` of PyTorch's names).
    public enum Kind: Sendable {
        /// `BatchNorm1d`: features `[N, C]` or sequences `[N, C, L]`.
        case oneD
        /// `BatchNorm2d`: images `[N, C, H, W]`.
        case twoD
    }

    public let kind: Kind
    public let channels: Int
    public let momentum: Float
    public let epsilon: Float
    public let weight: Parameter
    public let bias: Parameter
    /// Running mean per channel (a buffer, not a parameter: checkpoints save it alongside).
    public let runningMean: Tensor
    /// Running (unbiased) variance per channel.
    public let runningVariance: Tensor
    public var isTraining = true
    /// While set, the running statistics move by this factor instead of `momentum`:
    /// `BatchNormRecalibration` sets `1/k` at its k-th batch, PyTorch's `momentum=None`
    /// (a cumulative average).
    var statisticsFactor: Double?

    private let output = Tensor(shape: [0])
    private let gradInput = Tensor(shape: [0])
    /// The input of the last forward pass (backward recomputes x̂ from it: one stream less to
    /// write and keep than storing x̂).
    private var input: Tensor?
    /// 1/√(σ² + ε) and μ per channel, of the statistics the last forward pass used.
    private let inverseStd = Tensor(shape: [0])
    private let usedMean = Tensor(shape: [0])
    /// Whether the last forward pass used batch statistics (backward must match it).
    private var forwardUsedBatchStatistics = true

    public init(channels: Int, kind: Kind, momentum: Float = 0.1, epsilon: Float = 1e-5) throws {
        let name = kind == .oneD ? "BatchNorm1d" : "BatchNorm2d"
        guard channels > 0 else { throw EngineError.invalidArgument("\(name): channels must be positive, got \(channels)") }
        guard momentum >= 0, momentum <= 1 else {
            throw EngineError.invalidArgument("\(name): momentum must be in [0, 1], got \(momentum)")
        }
        guard epsilon > 0, epsilon.isFinite else {
            throw EngineError.invalidArgument("\(name): eps must be a positive number, got \(epsilon)")
        }
        self.kind = kind
        self.channels = channels
        self.momentum = momentum
        self.epsilon = epsilon
        weight = try Parameter(name: "weight", checkedShape: [channels], of: "\(name)(\(channels))")
        bias = try Parameter(name: "bias", checkedShape: [channels], of: "\(name)(\(channels))")
        weight.value.fill(1)
        runningMean = Tensor(shape: [channels])
        runningVariance = Tensor(shape: [channels])
        runningVariance.fill(1)
        try inverseStd.resize(toShape: [channels], for: "\(summary) statistics")
        try usedMean.resize(toShape: [channels], for: "\(summary) statistics")
    }

    public var summary: String { (kind == .oneD ? "BatchNorm1d" : "BatchNorm2d") + "(\(channels))" }
    public var ownParameters: [Parameter] { [weight, bias] }
    public var ownBuffers: [(name: String, tensor: Tensor)] { [("running_mean", runningMean), ("running_var", runningVariance)] }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        try validate(inputShape)
        return inputShape
    }

    private func validate(_ shape: [Int]) throws {
        let fits: Bool
        switch kind {
        case .oneD: fits = (shape.count == 2 || shape.count == 3) && shape[1] == channels
        case .twoD: fits = shape.count == 4 && shape[1] == channels
        }
        guard fits else {
            throw shapeError(self, expected: kind == .oneD ? "[N, \(channels)] or [N, \(channels), L]" : "[N, \(channels), H, W]", got: shape)
        }
    }

    public func forward(_ x: Tensor) throws -> Tensor {
        try validate(x.shape)
        let n = x.shape[0], c = channels
        let spatial = x.count / max(n * c, 1)
        let perChannel = n * spatial
        if isTraining, perChannel < 2 {
            throw EngineError.invalidArgument(
                "\(summary): training needs more than one value per channel to compute batch statistics, got input \(x.shape.shapeString)")
        }
        try output.resize(batch: n, like: x.shape, for: "\(summary) output")
        input = x
        forwardUsedBatchStatistics = isTraining

        let xs = x.data, ys = output.data
        let gamma = weight.value.data, beta = bias.value.data
        let rMean = runningMean.data, rVar = runningVariance.data, invStd = inverseStd.data, means = usedMean.data
        let training = isTraining, m = statisticsFactor ?? Double(momentum), eps = Double(epsilon)
        parallelRanges(c, minimumPerThread: max(1, (1 << 15) / max(perChannel, 1))) { range in
            for ch in range {
                let mean: Double, variance: Double
                if training {
                    (mean, variance) = Self.batchStatistics(xs, channel: ch, n: n, channels: c, spatial: spatial)
                    rMean[ch] = Float((1 - m) * Double(rMean[ch]) + m * mean)
                    let unbiased = variance * Double(perChannel) / Double(perChannel - 1)
                    rVar[ch] = Float((1 - m) * Double(rVar[ch]) + m * unbiased)
                } else {
                    mean = Double(rMean[ch])
                    variance = Double(rVar[ch])
                }
                let inv = 1 / (variance + eps).squareRoot()
                invStd[ch] = Float(inv)
                means[ch] = Float(mean)
                // y = γ·x̂ + β = x·(γ/σ̂) + (β − μ·γ/σ̂)
                let scale = Float(Double(gamma[ch]) * inv), shift = Float(Double(beta[ch]) - mean * Double(gamma[ch]) * inv)
                for item in 0..<n {
                    let offset = (item * c + ch) * spatial
                    let v = xs + offset, y = ys + offset
                    for i in 0..<spatial { y[i] = v[i] * scale + shift }
                }
            }
        }
        return output
    }

    /// Batch mean and biased variance of channel `ch` of `xs` `[n, channels, spatial]`, reading
    /// the input from memory once: each row (one image's plane) is reduced twice while it is
    /// in cache (its sum, then its squared deviations from its own mean, in Float vector
    /// lanes), and the rows are merged in Double by Chan et al.'s pairwise update, which is
    /// free of the cancellation of `E[x²] − E[x]²`.
    private static func batchStatistics(
        _ xs: UnsafePointer<Float>, channel ch: Int, n: Int, channels c: Int, spatial: Int
    ) -> (mean: Double, variance: Double) {
        var mean = 0.0, squares = 0.0, count = 0.0
        let rowCount = Double(spatial)
        for item in 0..<n {
            let row = xs + (item * c + ch) * spatial
            let rowMean = Double(rowSum(row, count: spatial)) / rowCount
            let rowSquares = Double(rowSquaredDeviations(row, count: spatial, center: Float(rowMean)))
            let delta = rowMean - mean, merged = count + rowCount
            mean += delta * rowCount / merged
            squares += rowSquares + delta * delta * count * rowCount / merged
            count = merged
        }
        return (mean, squares / count)
    }

    public func backward(_ dy: Tensor) throws -> Tensor {
        guard let x = input, dy.shape == x.shape, dy.shape == output.shape, !dy.shape.isEmpty else {
            throw shapeError(self, expected: "gradient \(output.shape.shapeString) after forward", got: dy.shape)
        }
        let n = dy.shape[0], c = channels
        let spatial = dy.count / max(n * c, 1)
        let perChannel = n * spatial
        try gradInput.resize(batch: n, like: dy.shape, for: "\(summary) input gradient")
        let dys = dy.data, dxs = gradInput.data, xs = x.data
        let gamma = weight.value.data, dGamma = weight.gradient.data, dBeta = bias.gradient.data
        let invStd = inverseStd.data, means = usedMean.data, batchStatistics = forwardUsedBatchStatistics
        parallelRanges(c, minimumPerThread: max(1, (1 << 15) / max(perChannel, 1))) { range in
            for ch in range {
                // x̂ = (x − μ)/σ̂ is recomputed from the input rather than stored.
                let mean = means[ch], inv = invStd[ch]
                var sumDy = 0.0, sumDyCentered = 0.0
                for item in 0..<n {
                    let offset = (item * c + ch) * spatial
                    let (s, d) = rowSumAndCenteredDot(dys + offset, xs + offset, count: spatial, center: mean)
                    sumDy += Double(s)
                    sumDyCentered += Double(d)
                }
                let sumDyXhat = sumDyCentered * Double(inv)
                dBeta[ch] += Float(sumDy)
                dGamma[ch] += Float(sumDyXhat)
                let scale = gamma[ch] * inv
                // Batch statistics depend on x: subtract the mean gradient and its projection
                // on x̂. Running statistics are constants: a plain scaling.
                let meanDy = batchStatistics ? Float(sumDy / Double(perChannel)) : 0
                let meanDyXhat = batchStatistics ? Float(sumDyXhat / Double(perChannel)) : 0
                let slope = inv * meanDyXhat
                for item in 0..<n {
                    let offset = (item * c + ch) * spatial
                    let g = dys + offset, v = xs + offset, dx = dxs + offset
                    for i in 0..<spatial { dx[i] = scale * (g[i] - meanDy - (v[i] - mean) * slope) }
                }
            }
        }
        return gradInput
    }
}
