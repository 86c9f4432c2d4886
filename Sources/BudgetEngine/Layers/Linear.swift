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

    private let output = Tensor(shape: [0])
    private let gradInput = Tensor(shape: [0])
    private var input: Tensor?

    public init(inputs: Int, outputs: Int, bias: Bool = true, rng: inout RandomGenerator) throws {
        guard inputs > 0, outputs > 0 else {
            throw EngineError.invalidArgument("Linear: sizes must be positive, got \(inputs) -> \(outputs)")
        }
        self.inputs = inputs
        self.outputs = outputs
        weight = Parameter(name: "weight", shape: [outputs, inputs])
        self.bias = bias ? Parameter(name: "bias", shape: [outputs]) : nil
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
        output.resize(batch: n, like: [n, outputs])
        input = x
        if let b = bias {
            for row in 0..<n { (output.data + row * outputs).update(from: b.value.data, count: outputs) }
        }
        BLAS.gemm(
            transA: false, transB: true, m: n, n: outputs, k: inputs,
            a: x.data, lda: inputs, b: weight.value.data, ldb: inputs,
            beta: bias == nil ? 0 : 1, c: output.data, ldc: outputs)
        return output
    }

    public func backward(_ dy: Tensor) throws -> Tensor {
        guard let x = input, dy.shape.count == 2, dy.shape[1] == outputs, dy.shape[0] == x.shape[0] else {
            throw shapeError(self, expected: "gradient [N, \(outputs)] after forward", got: dy.shape)
        }
        let n = x.shape[0]
        // dW[out, in] += dYᵀ · X
        BLAS.gemm(
            transA: true, transB: false, m: outputs, n: inputs, k: n,
            a: dy.data, lda: outputs, b: x.data, ldb: inputs,
            beta: 1, c: weight.gradient.data, ldc: inputs)
        if let b = bias {
            let g = b.gradient.data
            for row in 0..<n {
                let r = dy.data + row * outputs
                for j in 0..<outputs { g[j] += r[j] }
            }
        }
        gradInput.resize(batch: n, like: x.shape)
        guard needsInputGradient else { return gradInput }
        // dX[N, in] = dY · W
        BLAS.gemm(
            transA: false, transB: false, m: n, n: inputs, k: outputs,
            a: dy.data, lda: outputs, b: weight.value.data, ldb: inputs,
            beta: 0, c: gradInput.data, ldc: inputs)
        return gradInput
    }
}
