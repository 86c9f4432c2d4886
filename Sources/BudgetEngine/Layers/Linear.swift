/// Fully connected layer: `y = x · Wᵀ + b`.
///
/// Shapes: input `[N, in]`, weight `[out, in]` (PyTorch's layout), bias `[out]`, output
/// `[N, out]`. Initialisation as PyTorch's `nn.Linear`: weight and bias uniform in
/// `±1/√in` (Kaiming-uniform with a = √5).
///
/// ```swift
/// let layer = Linear(inputs: 784, outputs: 256, rng: &rng)
/// ```
public final class Linear: Layer, InputGradientOptional {
    public let inputs: Int
    public let outputs: Int
    public let weight: Parameter
    public let bias: Parameter?
    public var isTraining = true
    public var needsInputGradient = true
    /// When set, the number of parallel workers for every product (tests use it to run the
    /// multi-worker path on small layers without touching the global thread setting).
    var workersOverride: Int?
    /// Whether large products are split across the engine's workers (true) or threaded by
    /// OpenBLAS (false). OpenBLAS's own threading is faster for a product on its own (its
    /// threads share packed panels), but after each call its threads spin for a while, and
    /// then fight the engine's workers of a following convolution. So the trainer turns
    /// this on in models that have layers with workers of their own (see `OwnWorkers`).
    public var splitsAcrossWorkers = false

    private let output = Tensor(shape: [0])
    private let gradInput = Tensor(shape: [0])
    private var input: Tensor?

    public init(inputs: Int, outputs: Int, bias: Bool = true, rng: inout RandomGenerator) throws {
        guard inputs > 0, outputs > 0 else {
            throw EngineError.invalidArgument("Linear: sizes must be positive, got \(inputs) -> \(outputs)")
        }
        self.inputs = inputs
        self.outputs = outputs
        let layer = "Linear(\(inputs) -> \(outputs))"
        weight = try Parameter(name: "weight", checkedShape: [outputs, inputs], of: layer)
        self.bias = bias ? try Parameter(name: "bias", checkedShape: [outputs], of: layer) : nil
        let bound = 1 / Float(inputs).squareRoot()
        for i in 0..<weight.count { weight.value[i] = rng.uniform(-bound, bound) }
        if let b = self.bias { for i in 0..<outputs { b.value[i] = rng.uniform(-bound, bound) } }
    }

    public var summary: String { "Linear(\(inputs) -> \(outputs)\(bias == nil ? ", no bias" : ""))" }
    public var ownParameters: [Parameter] { bias.map { [weight, $0] } ?? [weight] }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard inputShape.count == 2, inputShape[1] == inputs else {
            throw shapeError(self, expected: "[N, \(inputs)]", got: inputShape)
        }
        return [inputShape[0], outputs]
    }

    public func forward(_ x: Tensor) throws -> Tensor {
        guard x.shape.count == 2, x.shape[1] == inputs else {
            throw shapeError(self, expected: "[N, \(inputs)]", got: x.shape)
        }
        let n = x.shape[0]
        try output.resize(batch: n, like: [n, outputs], for: "\(summary) output")
        input = x
        if let b = bias {
            for row in 0..<n { (output.data + row * outputs).update(from: b.value.data, count: outputs) }
        }
        let (xs, w, ys, ins, outs) = (x.data, weight.value.data, output.data, inputs, outputs)
        let beta: Float = bias == nil ? 0 : 1
        // Y[:, outs] (+)= X · W[outs]ᵀ, a slice of output features per worker: each worker
        // packs only its own rows of W, the larger operand.
        parallelSlices(outs, workers: workerCount(rows: n)) { _, features in
            BLAS.gemm(
                transA: false, transB: true, m: n, n: features.count, k: ins,
                a: xs, lda: ins, b: w + features.lowerBound * ins, ldb: ins,
                beta: beta, c: ys + features.lowerBound, ldc: outs)
        }
        return output
    }

    /// Workers for a product over the batch: one unless it is large enough to split (small
    /// products cost less than the hand-off; OpenBLAS then runs them on one thread too).
    private func workerCount(rows: Int) -> Int {
        if let workersOverride { return workersOverride }
        return splitsAcrossWorkers && rows * inputs * outputs >= 1 << 20 ? ComputeThreads.count : 1
    }

    public func backward(_ dy: Tensor) throws -> Tensor {
        guard let x = input, dy.shape.count == 2, dy.shape[1] == outputs, dy.shape[0] == x.shape[0] else {
            throw shapeError(self, expected: "gradient [N, \(outputs)] after forward", got: dy.shape)
        }
        let n = x.shape[0]
        let (xs, dys, w, dW, ins, outs) = (x.data, dy.data, weight.value.data, weight.gradient.data, inputs, outputs)
        let dB = bias?.gradient.data
        let workers = workerCount(rows: n)
        // dW[outs, in] += dY[:, outs]ᵀ · X and db[outs] += Σ_rows dY[:, outs], a slice of output
        // features per worker (no two workers write the same gradient entry).
        parallelSlices(outs, workers: workers) { _, features in
            BLAS.gemm(
                transA: true, transB: false, m: features.count, n: ins, k: n,
                a: dys + features.lowerBound, lda: outs, b: xs, ldb: ins,
                beta: 1, c: dW + features.lowerBound * ins, ldc: ins)
            if let dB {
                for row in 0..<n {
                    let r = dys + row * outs
                    for j in features { dB[j] += r[j] }
                }
            }
        }
        try gradInput.resize(batch: n, like: x.shape, for: "\(summary) input gradient")
        guard needsInputGradient else { return gradInput }
        // dX[:, ins] = dY · W[:, ins], a slice of input features per worker.
        let dxs = gradInput.data
        parallelSlices(ins, workers: workers) { _, features in
            BLAS.gemm(
                transA: false, transB: false, m: n, n: features.count, k: outs,
                a: dys, lda: outs, b: w + features.lowerBound, ldb: ins,
                beta: 0, c: dxs + features.lowerBound, ldc: ins)
        }
        return gradInput
    }
}
