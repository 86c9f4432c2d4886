/// Rectified linear unit, `y = max(0, x)`, elementwise on any shape.
public final class ReLU: Layer {
    public var isTraining = true
    private let output = Tensor(shape: [0])
    private let gradInput = Tensor(shape: [0])

    public init() {}

    public var summary: String { "ReLU" }
    public func outputShape(for inputShape: [Int]) throws -> [Int] { inputShape }

    public func forward(_ x: Tensor) throws -> Tensor {
        try output.resize(batch: x.batchSize, like: x.shape, for: "\(summary) output")
        let src = x.data, dst = output.data
        parallelRanges(x.count, minimumPerThread: 1 << 16) { range in
            for i in range { dst[i] = max(src[i], 0) }
        }
        return output
    }

    public func backward(_ dy: Tensor) throws -> Tensor {
        guard dy.count == output.count else {
            throw shapeError(self, expected: "gradient \(output.shape.shapeString)", got: dy.shape)
        }
        try gradInput.resize(batch: dy.batchSize, like: dy.shape, for: "\(summary) input gradient")
        let y = output.data, g = dy.data, dx = gradInput.data
        parallelRanges(dy.count, minimumPerThread: 1 << 16) { range in
            // Both loads unconditional, so the select vectorises.
            for i in range {
                let gradient = g[i]
                dx[i] = y[i] > 0 ? gradient : 0
            }
        }
        return gradInput
    }
}
