/// Average pooling over square windows of NCHW images, without padding (PyTorch's
/// `nn.AvgPool2d` with its defaults): `y[n, c, oh, ow] = 1/k² · Σ_{ki, kj} x[n, c, oh·s + ki, ow·s + kj]`,
/// `OH = (H − k) / s + 1` (rounded down). The stride defaults to the kernel size.
///
/// Backward spreads each output's gradient evenly, `dy/k²`, over its window.
public final class AvgPool2d: Layer {
    public let kernel: Int
    public let stride: Int
    public var isTraining = true

    private let output = Tensor(shape: [0])
    private let gradInput = Tensor(shape: [0])
    private var inputShape: [Int] = []
    private var geometry: WindowGeometry?

    public init(kernel: Int, stride: Int? = nil) throws {
        guard kernel > 0 else { throw EngineError.invalidArgument("AvgPool2d: kernel size must be positive, got \(kernel)") }
        let stride = stride ?? kernel
        guard stride > 0 else { throw EngineError.invalidArgument("AvgPool2d: stride must be positive, got \(stride)") }
        self.kernel = kernel
        self.stride = stride
    }

    public var summary: String { "AvgPool2d(\(kernel)x\(kernel), stride \(stride))" }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        let g = try poolingGeometry(self, kernel: kernel, stride: stride, inputShape: inputShape)
        return [inputShape[0], inputShape[1], g.outHeight, g.outWidth]
    }

    public func forward(_ x: Tensor) throws -> Tensor {
        let g = try poolingGeometry(self, kernel: kernel, stride: stride, inputShape: x.shape)
        geometry = g
        if inputShape != x.shape { inputShape = x.shape }
        try output.resize(batch: x.shape[0], like: [x.shape[0], x.shape[1], g.outHeight, g.outWidth], for: "\(summary) output")
        let planes = x.shape[0] * x.shape[1]
        let xs = x.data, ys = output.data
        let (h, w, oh, ow, k, s) = (g.height, g.width, g.outHeight, g.outWidth, kernel, stride)
        let scale = 1 / Float(k * k)
        parallelRanges(planes, minimumPerThread: max(1, (1 << 14) / max(h * w, 1))) { range in
            for plane in range {
                let src = xs + plane * h * w, dst = ys + plane * oh * ow
                for r in 0..<oh {
                    for c in 0..<ow {
                        var sum: Float = 0
                        for ki in 0..<k {
                            let row = src + (r * s + ki) * w + c * s
                            for kj in 0..<k { sum += row[kj] }
                        }
                        dst[r * ow + c] = sum * scale
                    }
                }
            }
        }
        return output
    }

    public func backward(_ dy: Tensor) throws -> Tensor {
        guard let g = geometry, dy.shape == output.shape else {
            throw shapeError(self, expected: "gradient \(output.shape.shapeString) after forward", got: dy.shape)
        }
        try gradInput.resize(batch: inputShape[0], like: inputShape, for: "\(summary) input gradient")
        let planes = inputShape[0] * inputShape[1]
        let dys = dy.data, dxs = gradInput.data
        let (h, w, oh, ow, k, s) = (g.height, g.width, g.outHeight, g.outWidth, kernel, stride)
        let scale = 1 / Float(k * k)
        parallelRanges(planes, minimumPerThread: max(1, (1 << 14) / max(h * w, 1))) { range in
            for plane in range {
                let dx = dxs + plane * h * w, grad = dys + plane * oh * ow
                dx.update(repeating: 0, count: h * w)
                for r in 0..<oh {
                    for c in 0..<ow {
                        let share = grad[r * ow + c] * scale
                        for ki in 0..<k {
                            let row = dx + (r * s + ki) * w + c * s
                            for kj in 0..<k { row[kj] += share }
                        }
                    }
                }
            }
        }
        return gradInput
    }
}
