import Foundation

// Elementwise activations on any shape. Each computes `y = f(x)` in `forward` and
// `dx = f'(·) · dy` in `backward`, from whichever of x or y gives the derivative most cheaply.
// (ReLU has its own file: it came first.)

/// Minimum elements per thread before an elementwise loop is split across threads.
private let elementwiseGrain = 1 << 16

/// `y = x` for x > 0, `slope · x` otherwise (PyTorch's `nn.LeakyReLU`, default slope 0.01).
public final class LeakyReLU: Layer {
    public let slope: Float
    public var isTraining = true
    private let output = Tensor(shape: [0])
    private let gradInput = Tensor(shape: [0])
    private var input: Tensor?

    public init(slope: Float = 0.01) throws {
        guard slope.isFinite else { throw EngineError.invalidArgument("LeakyReLU: slope must be a finite number, got \(slope)") }
        self.slope = slope
    }

    public var summary: String { "LeakyReLU(\(slope))" }
    public func outputShape(for inputShape: [Int]) throws -> [Int] { inputShape }

    public func forward(_ x: Tensor) throws -> Tensor {
        try output.resize(batch: x.batchSize, like: x.shape, for: "\(summary) output")
        input = x
        let src = x.data, dst = output.data, a = slope
        parallelRanges(x.count, minimumPerThread: elementwiseGrain) { range in
            for i in range { dst[i] = src[i] > 0 ? src[i] : a * src[i] }
        }
        return output
    }

    public func backward(_ dy: Tensor) throws -> Tensor {
        guard let x = input, dy.count == x.count else {
            throw shapeError(self, expected: "gradient \(output.shape.shapeString) after forward", got: dy.shape)
        }
        try gradInput.resize(batch: dy.batchSize, like: dy.shape, for: "\(summary) input gradient")
        let xs = x.data, g = dy.data, dx = gradInput.data, a = slope
        parallelRanges(dy.count, minimumPerThread: elementwiseGrain) { range in
            for i in range { dx[i] = xs[i] > 0 ? g[i] : a * g[i] }
        }
        return gradInput
    }
}

/// `y = tanh(x)`; `dy/dx = 1 − y²`.
public final class Tanh: Layer {
    public var isTraining = true
    private let output = Tensor(shape: [0])
    private let gradInput = Tensor(shape: [0])

    public init() {}

    public var summary: String { "Tanh" }
    public func outputShape(for inputShape: [Int]) throws -> [Int] { inputShape }

    public func forward(_ x: Tensor) throws -> Tensor {
        try output.resize(batch: x.batchSize, like: x.shape, for: "\(summary) output")
        let src = x.data, dst = output.data
        parallelRanges(x.count, minimumPerThread: elementwiseGrain / 8) { range in
            for i in range { dst[i] = tanhf(src[i]) }
        }
        return output
    }

    public func backward(_ dy: Tensor) throws -> Tensor {
        guard dy.count == output.count else {
            throw shapeError(self, expected: "gradient \(output.shape.shapeString) after forward", got: dy.shape)
        }
        try gradInput.resize(batch: dy.batchSize, like: dy.shape, for: "\(summary) input gradient")
        let y = output.data, g = dy.data, dx = gradInput.data
        parallelRanges(dy.count, minimumPerThread: elementwiseGrain) { range in
            for i in range { dx[i] = g[i] * (1 - y[i] * y[i]) }
        }
        return gradInput
    }
}

/// `y = 1 / (1 + e^(−x))`; `dy/dx = y · (1 − y)`.
public final class Sigmoid: Layer {
    public var isTraining = true
    private let output = Tensor(shape: [0])
    private let gradInput = Tensor(shape: [0])

    public init() {}

    public var summary: String { "Sigmoid" }
    public func outputShape(for inputShape: [Int]) throws -> [Int] { inputShape }

    public func forward(_ x: Tensor) throws -> Tensor {
        try output.resize(batch: x.batchSize, like: x.shape, for: "\(summary) output")
        let src = x.data, dst = output.data
        parallelRanges(x.count, minimumPerThread: elementwiseGrain / 8) { range in
            // e^(−|x|) never overflows; the two branches are the same function.
            for i in range {
                let v = src[i]
                let e = expf(-abs(v))
                dst[i] = v >= 0 ? 1 / (1 + e) : e / (1 + e)
            }
        }
        return output
    }

    public func backward(_ dy: Tensor) throws -> Tensor {
        guard dy.count == output.count else {
            throw shapeError(self, expected: "gradient \(output.shape.shapeString) after forward", got: dy.shape)
        }
        try gradInput.resize(batch: dy.batchSize, like: dy.shape, for: "\(summary) input gradient")
        let y = output.data, g = dy.data, dx = gradInput.data
        parallelRanges(dy.count, minimumPerThread: elementwiseGrain) { range in
            for i in range { dx[i] = g[i] * y[i] * (1 - y[i]) }
        }
        return gradInput
    }
}

/// Gaussian error linear unit in its exact form (PyTorch's default `nn.GELU()`):
///
///     y = x · Φ(x) = x/2 · (1 + erf(x/√2)),     dy/dx = Φ(x) + x · φ(x),   φ(x) = e^(−x²/2)/√(2π)
public final class GELU: Layer {
    public var isTraining = true
    private let output = Tensor(shape: [0])
    private let gradInput = Tensor(shape: [0])
    private var input: Tensor?

    public init() {}

    public var summary: String { "GELU" }
    public func outputShape(for inputShape: [Int]) throws -> [Int] { inputShape }

    public func forward(_ x: Tensor) throws -> Tensor {
        try output.resize(batch: x.batchSize, like: x.shape, for: "\(summary) output")
        input = x
        let src = x.data, dst = output.data
        let invSqrt2: Float = 0.707_106_77
        parallelRanges(x.count, minimumPerThread: elementwiseGrain / 8) { range in
            for i in range { dst[i] = 0.5 * src[i] * (1 + erff(src[i] * invSqrt2)) }
        }
        return output
    }

    public func backward(_ dy: Tensor) throws -> Tensor {
        guard let x = input, dy.count == x.count else {
            throw shapeError(self, expected: "gradient \(output.shape.shapeString) after forward", got: dy.shape)
        }
        try gradInput.resize(batch: dy.batchSize, like: dy.shape, for: "\(summary) input gradient")
        let xs = x.data, g = dy.data, dx = gradInput.data
        let invSqrt2: Float = 0.707_106_77, invSqrt2Pi: Float = 0.398_942_3
        parallelRanges(dy.count, minimumPerThread: elementwiseGrain / 8) { range in
            for i in range {
                let v = xs[i]
                let cdf = 0.5 * (1 + erff(v * invSqrt2))
                let pdf = invSqrt2Pi * expf(-0.5 * v * v)
                dx[i] = g[i] * (cdf + v * pdf)
            }
        }
        return gradInput
    }
}
