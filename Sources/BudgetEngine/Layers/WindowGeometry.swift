/// The geometry of a square window sliding over one image `[C, H, W]` with a stride and zero
/// padding, shared by convolution and pooling:
///
///     OH = (H + 2·padding − kernel) / stride + 1,   OW likewise (rounded down, as PyTorch).
///
/// Output pixel `(oh, ow)` sees input pixels `(oh·stride − padding + ki, ow·stride − padding + kj)`
/// for `ki, kj` in `0 ..< kernel`; positions outside the image read as zero.
struct WindowGeometry: Equatable {
    let channels: Int
    let height: Int
    let width: Int
    let kernel: Int
    let stride: Int
    let padding: Int
    let outHeight: Int
    let outWidth: Int

    /// Nil when the window does not fit in the padded image.
    init?(channels: Int, height: Int, width: Int, kernel: Int, stride: Int, padding: Int) {
        guard height + 2 * padding >= kernel, width + 2 * padding >= kernel else { return nil }
        self.channels = channels
        self.height = height
        self.width = width
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        outHeight = (height + 2 * padding - kernel) / stride + 1
        outWidth = (width + 2 * padding - kernel) / stride + 1
    }

    /// Values in one input image.
    var imageSize: Int { channels * height * width }
    /// Pixels in one output plane.
    var outPixels: Int { outHeight * outWidth }
    /// Rows of the column matrix: one per (channel, ki, kj).
    var patchSize: Int { channels * kernel * kernel }

    /// The output columns `ow` whose tap `kj` lands inside the image (`0 ≤ ow·s − p + kj < W`);
    /// the others read padding.
    @inline(__always)
    private func validColumns(tap kj: Int) -> Range<Int> {
        let first = ceilDivide(padding - kj, stride)
        let last = floorDivide(width - 1 + padding - kj, stride)
        let lo = min(max(first, 0), outWidth)
        return lo..<max(min(last + 1, outWidth), lo)
    }

    /// Unfolds one image into its column matrix `cols[C·k·k, OH·OW]`:
    /// `cols[(c·k + ki)·k + kj, oh·OW + ow] = x[c, oh·s − p + ki, ow·s − p + kj]` (zero outside).
    /// A convolution is then the product `W[out, C·k·k] · cols`.
    func im2col(_ image: UnsafePointer<Float>, into cols: UnsafeMutablePointer<Float>) {
        var row = cols
        for c in 0..<channels {
            let plane = image + c * height * width
            for ki in 0..<kernel {
                for kj in 0..<kernel {
                    let valid = validColumns(tap: kj)
                    let shift = kj - padding
                    for oh in 0..<outHeight {
                        let r = row + oh * outWidth
                        let ih = oh * stride - padding + ki
                        guard ih >= 0, ih < height else {
                            for ow in 0..<outWidth { r[ow] = 0 }
                            continue
                        }
                        let src = plane + ih * width
                        for ow in 0..<valid.lowerBound { r[ow] = 0 }
                        if stride == 1 {
                            for ow in valid { r[ow] = src[ow + shift] }
                        } else {
                            for ow in valid { r[ow] = src[ow * stride + shift] }
                        }
                        for ow in valid.upperBound..<outWidth { r[ow] = 0 }
                    }
                    row += outPixels
                }
            }
        }
    }

    /// The adjoint of `im2col`: folds a column matrix back into an image, summing the entries
    /// that came from the same input pixel (padding entries are dropped). Overwrites `image`.
    func col2im(_ cols: UnsafePointer<Float>, into image: UnsafeMutablePointer<Float>) {
        image.update(repeating: 0, count: imageSize)
        var row = cols
        for c in 0..<channels {
            let plane = image + c * height * width
            for ki in 0..<kernel {
                for kj in 0..<kernel {
                    let valid = validColumns(tap: kj)
                    let shift = kj - padding
                    for oh in 0..<outHeight {
                        let ih = oh * stride - padding + ki
                        guard ih >= 0, ih < height else { continue }
                        let r = row + oh * outWidth
                        let dst = plane + ih * width
                        if stride == 1 {
                            for ow in valid { dst[ow + shift] += r[ow] }
                        } else {
                            for ow in valid { dst[ow * stride + shift] += r[ow] }
                        }
                    }
                    row += outPixels
                }
            }
        }
    }
}

@inline(__always)
private func floorDivide(_ a: Int, _ b: Int) -> Int {
    a >= 0 ? a / b : -((-a + b - 1) / b)
}

@inline(__always)
private func ceilDivide(_ a: Int, _ b: Int) -> Int {
    -floorDivide(-a, b)
}
