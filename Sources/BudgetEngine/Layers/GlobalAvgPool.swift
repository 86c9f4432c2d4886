/// Averages each channel over all its pixels: `[N, C, H, W] -> [N, C]`,
/// `y[n, c] = 1/(H·W) · Σ_{h, w} x[n, c, h, w]` (PyTorch's `nn.AdaptiveAvgPool2d(1)` followed by
/// a flatten). Backward spreads `dy[n, c]/(H·W)` over the plane.
public final class GlobalAvgPool: Layer {
    public var isTraining = true
    private let output = Tensor(shape: [0])
    private let gradInput = Tensor(shape: [0])
    private var inputShape: [Int] = []

    public init() {}

    public var summary: String { "GlobalAvgPool" }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard inputShape.count == 4 else { throw shapeError(self, expected: "[N, C, H, W]", got: inputShape) }
        return [inputShape[0], inputShape[1]]
    }

    public func forward(_ x: Tensor) throws -> Tensor {
        guard x.shape.count == 4 else { throw shapeError(self, expected: "[N, C, H, W]", got: x.shape) }
        if inputShape != x.shape { inputShape = x.shape }
        let n = x.shape[0], c = x.shape[1], plane = x.shape[2] * x.shape[3]
        try output.resize(batch: n, like: [n, c], for: "\(summary) output")
        let xs = x.data, ys = output.data
        let scale = 1 / Float(max(plane, 1))
        parallelRanges(n * c, minimumPerThread: max(1, (1 << 15) / max(plane, 1))) { range in
            for p in range {
                let src = xs + p * plane
                var sum: Float = 0
                for i in 0..<plane { sum += src[i] }
                ys[p] = sum * scale
            }
        }
        return output
    }

    public func backward(_ dy: Tensor) throws -> Tensor {
        guard inputShape.count == 4, dy.shape == output.shape else {
            throw shapeError(self, expected: "gradient \(output.shape.shapeString) after forward", got: dy.shape)
        }
        try gradInput.resize(batch: inputShape[0], like: inputShape, for: "\(summary) input gradient")
        let plane = inputShape[2] * inputShape[3]
        let dys = dy.data, dxs = gradInput.data
        let scale = 1 / Float(max(plane, 1))
        parallelRanges(dy.count, minimumPerThread: max(1, (1 << 15) / max(plane, 1))) { range in
            for p in range { (dxs + p * plane).update(repeating: dys[p] * scale, count: plane) }
        }
        return gradInput
    }
}
