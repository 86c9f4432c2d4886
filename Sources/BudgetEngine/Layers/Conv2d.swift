/// 2-d convolution over NCHW images with a square kernel (cross-correlation, as PyTorch):
///
///     y[n, o, oh, ow] = b[o] + Σ_{c, ki, kj} W[o, c, ki, kj] · x[n, c, oh·s − p + ki, ow·s − p + kj]
///
/// with zero padding `p` and stride `s`; `OH = (H + 2p − k) / s + 1` (rounded down), `OW` likewise.
/// Shapes: input `[N, in, H, W]`, weight `[out, in, k, k]`, bias `[out]`, output `[N, out, OH, OW]`.
/// Initialisation as PyTorch's `nn.Conv2d`: weight and bias uniform in `±1/√fan_in` with
/// `fan_in = in·k·k` (Kaiming-uniform with a = √5).
///
/// Computed per image as im2col + GEMM: `y_n[out, OH·OW] = W[out, in·k·k] · cols_n[in·k·k, OH·OW]`,
/// which lands directly in NCHW order. The batch is split across workers (`parallelSlices`),
/// each with its own zero-padded copy of the image and column matrix (both stay in that core's
/// cache) and single-threaded GEMMs. Backward:
///
///     dWᵀ[in·k·k, out] += cols_n · dy_nᵀ     (this orientation runs about twice as fast as dW = dy_n · cols_nᵀ)
///     db[o]            += Σ dy_n[o, :]
///     dx_n              = col2im(Wᵀ · dy_n)   (skipped when the input gradient is not needed)
///
/// For stride 1 (padding below the kernel, no more output than input channels, the input
/// gradient wanted) backward works from the columns of `dy_n` instead (`StrideOneBackward`):
/// the input gradient is the forward convolution of `dy_n` with the flipped, transposed kernel
/// (a product with inner dimension `out·k·k` rather than `out`, and no scatter-add), and the
/// weight gradient the product of those columns with the image itself (no second im2col of
/// the input).
///
/// When an output plane has many more pixels than there are output channels, OpenBLAS runs
/// `W · cols` (a short, wide product) at less than half its speed: measured on 2 Zen cores,
/// 32 → 196 × 288 took 262 µs, and the same product written pixel-major, `y_nᵀ[OH·OW, out] =
/// cols_nᵀ · Wᵀ`, 107 µs. So the forward pass takes the pixel-major form there (see
/// `prefersPixelMajorProduct`) and transposes the result into NCHW, adding the bias on the way.
///
/// Measured on the 2-core reference machine for a small MNIST CNN, per-image GEMMs on parallel
/// workers beat both one GEMM over the whole minibatch (`W · cols[in·k·k, N·OH·OW]` threaded by
/// OpenBLAS, then a reorder to NCHW: its 14 MB column matrix lives in memory, not cache) and
/// GEMMs over groups of 2 to 8 images (no faster, plus the reorder).
///
/// ```swift
/// let conv = try Conv2d(inChannels: 1, outChannels: 16, kernel: 3, padding: 1, rng: &rng)
/// ```
public final class Conv2d: Layer, InputGradientOptional, OwnWorkers {
    public let inChannels: Int
    public let outChannels: Int
    public let kernel: Int
    public let stride: Int
    public let padding: Int
    public let weight: Parameter
    public let bias: Parameter?
    public var isTraining = true
    public var needsInputGradient = true
    /// When set, the number of parallel workers instead of `ComputeThreads.count` (tests use it
    /// to run the multi-worker path without touching the global thread setting).
    var workersOverride: Int?
    /// When set, forces the forward product's form (tests run both against the naive loops).
    var pixelMajorOverride: Bool?
    /// When set to false, stride-1 input gradients take col2im too (tests compare both).
    var transposedGradientOverride: Bool?

    private let output = Tensor(shape: [0])
    private let gradInput = Tensor(shape: [0])
    /// One column matrix per worker, `[workers, in·k·k · OH·OW + slack]` (im2col's slack).
    private let columns = Tensor(shape: [0])
    /// One zero-padded input image per worker, `[workers, in·(H + 2p)·(W + 2p) + slack]`; only
    /// the interiors are ever written, so the borders stay zero until the geometry changes.
    /// (With no padding it is a plain copy, which gives im2col the slack it reads past the end.)
    private let paddedImages = Tensor(shape: [0])
    private var paddedImagesGeometry: WindowGeometry?
    /// One zero-padded input gradient per worker (col2im accumulates into it, borders included).
    private let paddedGradients = Tensor(shape: [0])
    /// One pixel-major output plane per worker, `[workers, OH·OW · out]` (see `forward`).
    private let pixelMajorOutputs = Tensor(shape: [0])
    /// Per-worker partial gradients `[workers, in·k·k · out + out]`: dWᵀ (or `StrideOneBackward`'s G) then db.
    private let partialGradients = Tensor(shape: [0])
    private var input: Tensor?
    private var geometry: WindowGeometry?
    private let strideOneBackward = StrideOneBackward()

    public init(
        inChannels: Int, outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
        bias: Bool = true, rng: inout RandomGenerator
    ) throws {
        guard inChannels > 0, outChannels > 0 else {
            throw EngineError.invalidArgument("Conv2d: channels must be positive, got \(inChannels) -> \(outChannels)")
        }
        guard kernel > 0 else { throw EngineError.invalidArgument("Conv2d: kernel size must be positive, got \(kernel)") }
        guard stride > 0 else { throw EngineError.invalidArgument("Conv2d: stride must be positive, got \(stride)") }
        guard padding >= 0 else { throw EngineError.invalidArgument("Conv2d: padding must be >= 0, got \(padding)") }
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        guard padding <= WindowGeometry.maximumPadding else {
            throw EngineError.invalidArgument("Conv2d: padding must be at most \(WindowGeometry.maximumPadding), got \(padding)")
        }
        let layer = "Conv2d(\(inChannels) -> \(outChannels), \(kernel)x\(kernel))"
        weight = try Parameter(name: "weight", checkedShape: [outChannels, inChannels, kernel, kernel], of: layer)
        self.bias = bias ? try Parameter(name: "bias", checkedShape: [outChannels], of: layer) : nil
        let bound = 1 / Float(inChannels * kernel * kernel).squareRoot()
        for i in 0..<weight.count { weight.value[i] = rng.uniform(-bound, bound) }
        if let b = self.bias { for i in 0..<outChannels { b.value[i] = rng.uniform(-bound, bound) } }
    }

    public var summary: String {
        "Conv2d(\(inChannels) -> \(outChannels), \(kernel)x\(kernel), stride \(stride), padding \(padding)"
            + (bias == nil ? ", no bias)" : ")")
    }

    public var ownParameters: [Parameter] { bias.map { [weight, $0] } ?? [weight] }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        let g = try geometry(for: inputShape)
        return [inputShape[0], outChannels, g.outHeight, g.outWidth]
    }

    private func geometry(for shape: [Int]) throws -> WindowGeometry {
        guard shape.count == 4, shape[1] == inChannels,
              let g = try WindowGeometry(channels: inChannels, height: shape[2], width: shape[3],
                                         kernel: kernel, stride: stride, padding: padding, owner: summary)
        else {
            throw shapeError(
                self, expected: "[N, \(inChannels), H, W] with H + 2·\(padding) >= \(kernel) and W + 2·\(padding) >= \(kernel)",
                got: shape)
        }
        return g
    }

    /// Whether the forward product runs pixel-major: where the output plane is wide and the
    /// patch not tiny. The cut-offs come from timing single-threaded OpenBLAS on the shapes of
    /// small CNNs and ResNets: pixel-major was 1.5× and 2.4× faster at 49 and 6 output pixels
    /// per output channel (patches of 144 and 288), 1.6× slower at 0.8, and slower for patches
    /// of 9 and 16; the cut-offs sit between. A rule of shape, never of timing: the same model
    /// always computes the same way.
    private func prefersPixelMajorProduct(_ g: WindowGeometry) -> Bool {
        pixelMajorOverride ?? (g.outPixels >= 2 * outChannels && g.patchSize >= 32)
    }

    /// Whether the input gradient is a convolution of the output gradient (a rule of shape).
    private func usesTransposedGradient(_ g: WindowGeometry) -> Bool {
        (transposedGradientOverride ?? true) && StrideOneBackward.applies(to: g, outChannels: outChannels)
    }

    /// Whether an input of this shape gets `StrideOneBackward` (for tests).
    func usesStrideOneBackward(for inputShape: [Int]) throws -> Bool {
        usesTransposedGradient(try geometry(for: inputShape))
    }

    /// Whether an input of this shape gets the pixel-major forward product (for tests).
    func usesPixelMajorProduct(for inputShape: [Int]) throws -> Bool {
        prefersPixelMajorProduct(try geometry(for: inputShape))
    }

    private func workerCount(batch: Int) -> Int {
        max(1, min(workersOverride ?? ComputeThreads.count, batch))
    }

    /// Sizes the per-worker scratch buffers for `workers` workers on images of geometry `g`.
    private func prepareScratch(_ g: WindowGeometry, workers: Int, forGradient: Bool) throws {
        try columns.resize(toShape: [workers, g.columnSize + WindowGeometry.slack], for: "\(summary) column matrices")
        if paddedImagesGeometry != g || paddedImages.shape.first != workers {
            try paddedImages.resize(toShape: [workers, g.paddedImageSize + WindowGeometry.slack], for: "\(summary) padded images")
            paddedImages.zero()
            paddedImagesGeometry = g
        }
        if forGradient, g.padding > 0 { try paddedGradients.resize(toShape: [workers, g.paddedImageSize], for: "\(summary) padded gradients") }
    }

    /// The column matrix of image `image` of `xs`, in worker `worker`'s buffers.
    @inline(__always)
    private func unfold(_ g: WindowGeometry, _ xs: UnsafePointer<Float>, image: Int, worker: Int) -> UnsafeMutablePointer<Float> {
        let col = columns.data + worker * (g.columnSize + WindowGeometry.slack)
        let padded = paddedImages.data + worker * (g.paddedImageSize + WindowGeometry.slack)
        g.pad(xs + image * g.imageSize, into: padded)
        g.im2col(padded: padded, into: col)
        return col
    }

    public func forward(_ x: Tensor) throws -> Tensor {
        let g = try geometry(for: x.shape)
        geometry = g
        let n = x.shape[0]
        try output.resize(batch: n, like: [n, outChannels, g.outHeight, g.outWidth], for: "\(summary) output")
        input = x
        let workers = workerCount(batch: n)
        try prepareScratch(g, workers: workers, forGradient: false)

        let outPlane = outChannels * g.outPixels
        let pixelMajor = prefersPixelMajorProduct(g)
        if pixelMajor { try pixelMajorOutputs.resize(toShape: [workers, outPlane], for: "\(summary) pixel-major outputs") }
        let w = weight.value.data, b = bias?.value.data
        let xs = x.data, ys = output.data, transposed = pixelMajorOutputs.data
        let (o, pixels, patch) = (outChannels, g.outPixels, g.patchSize)
        parallelSlices(n, workers: workers) { worker, images in
            for image in images {
                let col = unfold(g, xs, image: image, worker: worker)
                let y = ys + image * outPlane
                if pixelMajor {
                    // y_nᵀ[OH·OW, out] = cols[C·k·k, OH·OW]ᵀ · W[out, C·k·k]ᵀ, then y_n = y_nᵀᵀ + b.
                    let yT = transposed + worker * outPlane
                    BLAS.gemm(
                        transA: true, transB: true, m: pixels, n: o, k: patch,
                        a: col, lda: pixels, b: w, ldb: patch,
                        beta: 0, c: yT, ldc: o)
                    for channel in 0..<o {
                        let plane = y + channel * pixels, shift = b?[channel] ?? 0
                        for pixel in 0..<pixels { plane[pixel] = yT[pixel * o + channel] + shift }
                    }
                    continue
                }
                if let b {
                    for channel in 0..<o { (y + channel * pixels).update(repeating: b[channel], count: pixels) }
                }
                // y_n[out, OH·OW] (+)= W[out, C·k·k] · cols[C·k·k, OH·OW]
                BLAS.gemm(
                    transA: false, transB: false, m: o, n: pixels, k: patch,
                    a: w, lda: patch, b: col, ldb: pixels,
                    beta: b == nil ? 0 : 1, c: y, ldc: pixels)
            }
        }
        return output
    }

    public func backward(_ dy: Tensor) throws -> Tensor {
        guard let x = input, let g = geometry, dy.shape == output.shape else {
            throw shapeError(self, expected: "gradient \(output.shape.shapeString) after forward", got: dy.shape)
        }
        let n = x.shape[0]
        try gradInput.resize(batch: n, like: x.shape, for: "\(summary) input gradient")
        let workers = workerCount(batch: n)
        let wantInput = needsInputGradient, hasBias = bias != nil
        let transposed = wantInput && usesTransposedGradient(g)
        if transposed {
            try strideOneBackward.prepare(weight: weight.value.data, outChannels: outChannels, forward: g, workers: workers, owner: summary)
        }
        try prepareScratch(g, workers: workers, forGradient: wantInput && !transposed)
        let (o, pixels, patch) = (outChannels, g.outPixels, g.patchSize)
        let partialSize = patch * o + o
        try partialGradients.resize(toShape: [workers, partialSize], for: "\(summary) partial gradients")
        partialGradients.zero()

        let w = weight.value.data, xs = x.data, dys = dy.data, dxs = gradInput.data
        let partials = partialGradients.data, paddedGrads = paddedGradients.data, strideOneBackward = strideOneBackward
        let outPlane = o * pixels
        parallelSlices(n, workers: workers) { worker, images in
            let dWt = partials + worker * partialSize, db = dWt + patch * o
            for image in images {
                let dyImage = dys + image * outPlane
                if hasBias {
                    for channel in 0..<o { db[channel] += rowSum(dyImage + channel * pixels, count: pixels) }
                }
                if transposed {
                    strideOneBackward.backward(
                        dyImage, input: xs + image * g.imageSize, inputGradient: dxs + image * g.imageSize,
                        partial: dWt, inChannels: inChannels, worker: worker)
                    continue
                }
                let col = unfold(g, xs, image: image, worker: worker)
                // dWᵀ[C·k·k, out] += cols[C·k·k, OH·OW] · dy_nᵀ[OH·OW, out]
                BLAS.gemm(
                    transA: false, transB: true, m: patch, n: o, k: pixels,
                    a: col, lda: pixels, b: dyImage, ldb: pixels,
                    beta: 1, c: dWt, ldc: o)
                guard wantInput else { continue }
                // dcols[C·k·k, OH·OW] = Wᵀ · dy_n, reusing the column buffer; then fold back.
                BLAS.gemm(
                    transA: true, transB: false, m: patch, n: pixels, k: o,
                    a: w, lda: patch, b: dyImage, ldb: pixels,
                    beta: 0, c: col, ldc: pixels)
                let dx = dxs + image * g.imageSize
                if g.padding == 0 {
                    g.col2im(col, intoPadded: dx)
                } else {
                    let padded = paddedGrads + worker * g.paddedImageSize
                    g.col2im(col, intoPadded: padded)
                    g.crop(padded, into: dx)
                }
            }
        }

        // Sum the workers' partial gradients into the parameters' (dWᵀ or G, then db).
        let dW = weight.gradient.data
        for worker in 0..<workers {
            let dWt = partials + worker * partialSize
            if transposed {
                StrideOneBackward.addWeightGradient(dWt, into: dW, outChannels: o, inChannels: inChannels, kernel: kernel)
            } else {
                for r in 0..<patch {
                    for channel in 0..<o { dW[channel * patch + r] += dWt[r * o + channel] }
                }
            }
            if let b = bias {
                let db = dWt + patch * o
                for channel in 0..<o { b.gradient.data[channel] += db[channel] }
            }
        }
        return gradInput
    }
}
