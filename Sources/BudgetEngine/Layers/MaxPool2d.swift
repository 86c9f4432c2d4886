/// Max pooling over square windows of NCHW images, without padding (PyTorch's `nn.MaxPool2d`
/// with its defaults): `y[n, c, oh, ow] = max over ki, kj of x[n, c, oh·s + ki, ow·s + kj]`,
/// `OH = (H − k) / s + 1` (rounded down). The stride defaults to the kernel size.
///
/// Backward routes each output's gradient to the input that was the maximum (the first one in
/// row-major order when several tie), summing where overlapping windows pick the same input.
public final class MaxPool2d: Layer {
    public let kernel: Int
    public let stride: Int
    public var isTraining = true

    private let output = Tensor(shape: [0])
    private let gradInput = Tensor(shape: [0])
    /// For each output, the offset of its maximum inside the input plane.
    private var argmax: UnsafeMutablePointer<Int32>
    private var argmaxCapacity = 1
    private var inputShape: [Int] = []
    private var geometry: WindowGeometry?

    public init(kernel: Int, stride: Int? = nil) throws {
        guard kernel > 0 else { throw EngineError.invalidArgument("MaxPool2d: kernel size must be positive, got \(kernel)") }
        let stride = stride ?? kernel
        guard stride > 0 else { throw EngineError.invalidArgument("MaxPool2d: stride must be positive, got \(stride)") }
        self.kernel = kernel
        self.stride = stride
        // Allocated only once the arguments are valid: a throwing init runs no deinit.
        argmax = .allocate(capacity: argmaxCapacity)
    }

    deinit { argmax.deallocate() }

    public var summary: String { "MaxPool2d(\(kernel)x\(kernel), stride \(stride))" }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        let g = try poolingGeometry(self, kernel: kernel, stride: stride, inputShape: inputShape)
        return [inputShape[0], inputShape[1], g.outHeight, g.outWidth]
    }

    public func forward(_ x: Tensor) throws -> Tensor {
        let g = try poolingGeometry(self, kernel: kernel, stride: stride, inputShape: x.shape)
        geometry = g
        if inputShape != x.shape { inputShape = x.shape }
        let planes = x.shape[0] * x.shape[1]
        try output.resize(batch: x.shape[0], like: [x.shape[0], x.shape[1], g.outHeight, g.outWidth], for: "\(summary) output")
        if output.count > argmaxCapacity {
            argmax.deallocate()
            argmax = .allocate(capacity: output.count)
            argmaxCapacity = output.count
        }
        let xs = x.data, ys = output.data, best = argmax
        let (h, w, oh, ow, k, s) = (g.height, g.width, g.outHeight, g.outWidth, kernel, stride)
        parallelRanges(planes, minimumPerThread: max(1, (1 << 14) / max(h * w, 1))) { range in
            for plane in range {
                let src = xs + plane * h * w
                let dst = ys + plane * oh * ow, idx = best + plane * oh * ow
                if k == 2, s == 2 {
                    MaxPool2d.pool2x2(src, width: w, outHeight: oh, outWidth: ow, into: dst, argmax: idx)
                    continue
                }
                for r in 0..<oh {
                    for c in 0..<ow {
                        var at = r * s * w + c * s
                        var m = src[at]
                        for ki in 0..<k {
                            let row = (r * s + ki) * w + c * s
                            for kj in 0..<k {
                                let v = src[row + kj]
                                // Strictly greater keeps the first of equal values; NaN propagates.
                                if v > m || v.isNaN && !m.isNaN { m = v; at = row + kj }
                            }
                        }
                        dst[r * ow + c] = m
                        idx[r * ow + c] = Int32(truncatingIfNeeded: at)
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
        let plane = g.height * g.width, outPlane = g.outPixels
        let dys = dy.data, dxs = gradInput.data, best = argmax
        parallelRanges(planes, minimumPerThread: max(1, (1 << 14) / max(plane, 1))) { range in
            for p in range {
                let dx = dxs + p * plane, grad = dys + p * outPlane, idx = best + p * outPlane
                // Zero, then add each gradient at its argmax (overlapping windows may share one).
                dx.update(repeating: 0, count: plane)
                for i in 0..<outPlane { dx[Int(idx[i])] += grad[i] }
            }
        }
        return gradInput
    }
}

extension MaxPool2d {
    /// The common 2x2, stride-2 case, without branches (random data would mispredict them):
    /// the better of each row pair, then of the two rows, a later candidate winning only when
    /// strictly greater (so ties go to the first in row-major order); the position is built
    /// arithmetically from the three comparison bits, which compiles to straight-line code.
    /// A window holding a NaN (which compares false) takes the general path, behind one
    /// branch that is almost never taken, so the NaN propagates as in PyTorch.
    ///
    /// Not inlined, and the comparison bits converted without selects, on purpose: inlined into
    /// the parallel closure, the compiler turned a select back into a branch that mispredicted
    /// on every other window (4x slower than on one thread).
    @inline(never)
    static func pool2x2(
        _ src: UnsafePointer<Float>, width w: Int, outHeight oh: Int, outWidth ow: Int,
        into dst: UnsafeMutablePointer<Float>, argmax idx: UnsafeMutablePointer<Int32>
    ) {
        let rowStep = Int32(truncatingIfNeeded: w)
        for r in 0..<oh {
            let top = 2 * r * w
            let upper = src + top, lower = upper + w
            let out = dst + r * ow, outIndex = idx + r * ow
            for c in 0..<ow {
                let a = upper[2 * c], b = upper[2 * c + 1], d = lower[2 * c], e = lower[2 * c + 1]
                let upperRight = b > a, lowerRight = e > d
                let upperMax = upperRight ? b : a, lowerMax = lowerRight ? e : d
                let lowerWins = lowerMax > upperMax
                var m = lowerWins ? lowerMax : upperMax
                let u = bit(upperRight), l = bit(lowerRight), down = bit(lowerWins)
                var at = down &* (rowStep &+ l) &+ (1 &- down) &* u
                if (a + b + d + e).isNaN {
                    // A NaN inside (or +inf and -inf together): compare one by one.
                    m = a; at = 0
                    if b > m || b.isNaN && !m.isNaN { m = b; at = 1 }
                    if d > m || d.isNaN && !m.isNaN { m = d; at = rowStep }
                    if e > m || e.isNaN && !m.isNaN { m = e; at = rowStep &+ 1 }
                }
                out[c] = m
                outIndex[c] = Int32(truncatingIfNeeded: top + 2 * c) &+ at
            }
        }
    }
}

/// 1 for true, 0 for false, without a branch or select (a Bool is one byte holding 0 or 1).
@inline(__always)
private func bit(_ b: Bool) -> Int32 { Int32(unsafeBitCast(b, to: UInt8.self)) }

/// The window geometry of a pooling layer over `[N, C, H, W]`, or a shape error naming it.
func poolingGeometry(_ layer: Layer, kernel: Int, stride: Int, inputShape: [Int]) throws -> WindowGeometry {
    guard inputShape.count == 4,
          let g = try WindowGeometry(channels: inputShape[1], height: inputShape[2], width: inputShape[3],
                                     kernel: kernel, stride: stride, padding: 0, owner: layer.summary)
    else {
        throw shapeError(layer, expected: "[N, C, H, W] with H >= \(kernel) and W >= \(kernel)", got: inputShape)
    }
    return g
}
