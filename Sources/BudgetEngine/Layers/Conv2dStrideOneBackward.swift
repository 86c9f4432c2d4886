/// The backward pass of a stride-1 convolution from the columns of the output gradient. The
/// input gradient is a forward convolution of the output gradient (the "transposed
/// convolution" identity):
///
///     dx[c, h, w] = Σ_{o, ki, kj} W[o, c, ki, kj] · dy[o, h + p − ki, w + p − kj]
///                 = Σ_{o, a, b}  W'[c, o, a, b] · dy[o, h − p' + a, w − p' + b]
///
/// with the flipped, transposed kernel `W'[c, o, a, b] = W[o, c, k−1−a, k−1−b]` and padding
/// `p' = k − 1 − p` (so it applies where `p ≤ k − 1`, as in every "same" convolution): an
/// `[out, OH, OW]` gradient padded by `p'` gives back `H × W` pixels. Per image that is im2col of
/// `dy_n`, `cols[(o, a, b), h·W + w] = dy[o, h − p' + a, w − p' + b]`, and one product
/// `dx_n[C, H·W] = W'[C, out·k·k] · cols`, instead of `Wᵀ · dy_n` (inner dimension `out` only,
/// writing a `[C·k·k, OH·OW]` matrix) followed by the scatter-add of col2im. Like the forward
/// pass, the product runs pixel-major where the plane is wide (`dx_nᵀ = colsᵀ · W'ᵀ`, then
/// transposed), by the same rule of shape.
///
/// The same columns give the weight gradient with the input image itself as the other factor,
/// so the input needs no im2col in backward:
///
///     dW[o, c, ki, kj] = Σ_{h, w} dy[o, h + p − ki, w + p − kj] · x[c, h, w]
///                      = G[(o, k−1−ki, k−1−kj), c],   G[out·k·k, C] = cols · x_nᵀ
///
/// Owns its per-worker scratch: one padded output gradient and one column matrix per worker.
final class StrideOneBackward {
    /// `W'[C, out·k·k]`, rebuilt from the weight at every backward pass.
    private let flipped = Tensor(shape: [0])
    private let paddedGradients = Tensor(shape: [0])
    private let columns = Tensor(shape: [0])
    private let pixelMajorInputs = Tensor(shape: [0])
    /// The window over `dy` (its padded buffers' borders stay zero while it is unchanged).
    private(set) var geometry: WindowGeometry?
    private var workers = 0

    /// Whether a convolution of this geometry takes this path: stride 1 and `p ≤ k − 1`, and
    /// the columns of `dy` (`out·k·k × H·W`) no larger than those of `x` (`C·k·k × OH·OW`),
    /// that is no more output than input channels in a "same" convolution. Where the output has
    /// more channels, unfolding `dy` costs more than the second unfolding of `x` it saves (the
    /// README's speed section has the measurement).
    static func applies(to g: WindowGeometry, outChannels o: Int) -> Bool {
        g.stride == 1 && g.padding <= g.kernel - 1 && o * g.height * g.width <= g.channels * g.outPixels
    }

    /// The window over an output gradient `[out, OH, OW]` of forward geometry `g`.
    static func gradientGeometry(of g: WindowGeometry, outChannels: Int, owner: String) throws -> WindowGeometry? {
        try WindowGeometry(channels: outChannels, height: g.outHeight, width: g.outWidth, kernel: g.kernel,
                           stride: 1, padding: g.kernel - 1 - g.padding, owner: owner)
    }

    /// Builds `W'` from `weight` `[out, C, k, k]` and sizes the buffers for `workers` workers.
    func prepare(weight: UnsafePointer<Float>, outChannels o: Int, forward g: WindowGeometry, workers: Int, owner: String) throws {
        guard let dg = try Self.gradientGeometry(of: g, outChannels: o, owner: owner),
              dg.outHeight == g.height, dg.outWidth == g.width else {
            throw EngineError.invalidArgument("\(owner): no stride-1 input gradient for this geometry")
        }
        let c = g.channels, k = g.kernel, kk = k * k
        try flipped.resize(toShape: [c, o * kk], for: "\(owner) flipped weight")
        let w = flipped.data
        for ch in 0..<c {
            for out in 0..<o {
                let source = weight + (out * c + ch) * kk, target = w + (ch * o + out) * kk
                for i in 0..<kk { target[i] = source[kk - 1 - i] }
            }
        }
        try columns.resize(toShape: [workers, dg.columnSize + WindowGeometry.slack], for: "\(owner) gradient columns")
        if geometry != dg || self.workers != workers {
            try paddedGradients.resize(toShape: [workers, dg.paddedImageSize + WindowGeometry.slack], for: "\(owner) padded output gradients")
            paddedGradients.zero()
            geometry = dg
            self.workers = workers
        }
        if Self.prefersPixelMajor(dg, inChannels: c) {
            try pixelMajorInputs.resize(toShape: [workers, g.imageSize], for: "\(owner) pixel-major input gradients")
        }
    }

    /// The forward pass's rule (`Conv2d.prefersPixelMajorProduct`) with `C` outputs per pixel.
    static func prefersPixelMajor(_ dg: WindowGeometry, inChannels c: Int) -> Bool {
        dg.outPixels >= 2 * c && dg.patchSize >= 32
    }

    /// For one image: `dx_n[C, H, W]` from `dy_n[out, OH, OW]`, and `G += cols · x_nᵀ` into
    /// the worker's `partial` `[out·k·k, C]` (see `addWeightGradient`), in worker `worker`'s
    /// buffers (after `prepare`).
    func backward(
        _ dy: UnsafePointer<Float>, input x: UnsafePointer<Float>, inputGradient dx: UnsafeMutablePointer<Float>,
        partial: UnsafeMutablePointer<Float>, inChannels c: Int, worker: Int
    ) {
        guard let dg = geometry else { return }
        let padded = paddedGradients.data + worker * (dg.paddedImageSize + WindowGeometry.slack)
        let col = columns.data + worker * (dg.columnSize + WindowGeometry.slack)
        dg.pad(dy, into: padded)
        dg.im2col(padded: padded, into: col)
        let (pixels, patch) = (dg.outPixels, dg.patchSize)
        // G[out·k·k, C] += cols[out·k·k, H·W] · x_n[C, H·W]ᵀ
        BLAS.gemm(transA: false, transB: true, m: patch, n: c, k: pixels,
                  a: col, lda: pixels, b: x, ldb: pixels, beta: 1, c: partial, ldc: c)
        if Self.prefersPixelMajor(dg, inChannels: c) {
            // dx_nᵀ[H·W, C] = cols[out·k·k, H·W]ᵀ · W'[C, out·k·k]ᵀ, then transposed.
            let dxT = pixelMajorInputs.data + worker * (c * pixels)
            BLAS.gemm(transA: true, transB: true, m: pixels, n: c, k: patch,
                      a: col, lda: pixels, b: flipped.data, ldb: patch, beta: 0, c: dxT, ldc: c)
            for ch in 0..<c {
                let plane = dx + ch * pixels
                for pixel in 0..<pixels { plane[pixel] = dxT[pixel * c + ch] }
            }
        } else {
            BLAS.gemm(transA: false, transB: false, m: c, n: pixels, k: patch,
                      a: flipped.data, lda: patch, b: col, ldb: pixels, beta: 0, c: dx, ldc: pixels)
        }
    }

    /// `dW[o, c, ki, kj] += G[(o, k−1−ki, k−1−kj), c]` for a `G` summed by `backward`.
    static func addWeightGradient(_ partial: UnsafePointer<Float>, into dW: UnsafeMutablePointer<Float>, outChannels o: Int, inChannels c: Int, kernel k: Int) {
        let kk = k * k
        for out in 0..<o {
            for ch in 0..<c {
                let target = dW + (out * c + ch) * kk
                for i in 0..<kk { target[i] += partial[(out * kk + kk - 1 - i) * c + ch] }
            }
        }
    }
}
