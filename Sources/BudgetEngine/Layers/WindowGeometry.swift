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
    /// Values in one input image.
    let imageSize: Int
    /// Pixels in one output plane.
    let outPixels: Int
    /// Rows of the column matrix: one per (channel, ki, kj).
    let patchSize: Int
    /// Values in one zero-padded image `[C, H + 2p, W + 2p]`.
    let paddedImageSize: Int
    /// Values in one column matrix `[C·k·k, OH·OW]`.
    let columnSize: Int

    /// The largest zero padding a layer may ask for: far beyond any real model, small enough
    /// that `H + 2·padding` can never overflow.
    static let maximumPadding = 1 << 20

    /// Nil when the window does not fit in the padded image. Throws when the sizes are out of
    /// range (a negative size, a padding above `maximumPadding`) or one of the buffers the
    /// geometry implies would hold more than a tensor may (`TensorSize.maximumElements`);
    /// `owner` names the layer in the error.
    init?(channels: Int, height: Int, width: Int, kernel: Int, stride: Int, padding: Int, owner: @autoclosure () -> String) throws {
        let side = 0...TensorSize.maximumElements
        guard side.contains(channels), side.contains(height), side.contains(width), (1...TensorSize.maximumElements).contains(kernel),
              stride > 0, (0...Self.maximumPadding).contains(padding) else {
            throw EngineError.invalidArgument("\(owner()): no window of \(kernel)x\(kernel), stride \(stride), padding \(padding) over [\(channels), \(height), \(width)]")
        }
        guard height + 2 * padding >= kernel, width + 2 * padding >= kernel else { return nil }
        self.channels = channels
        self.height = height
        self.width = width
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        outHeight = (height + 2 * padding - kernel) / stride + 1
        outWidth = (width + 2 * padding - kernel) / stride + 1
        guard let image = TensorSize.checkedProduct(channels, height, width),
              let pixels = TensorSize.checkedProduct(outHeight, outWidth),
              let patch = TensorSize.checkedProduct(channels, kernel, kernel),
              let padded = TensorSize.checkedProduct(channels, height + 2 * padding, width + 2 * padding),
              let columns = TensorSize.checkedProduct(patch, pixels)
        else {
            throw EngineError.invalidArgument(
                "\(owner()): a \(kernel)x\(kernel) window with padding \(padding) over [\(channels), \(height), \(width)] needs buffers of more than \(TensorSize.maximumElements) values")
        }
        imageSize = image
        outPixels = pixels
        patchSize = patch
        paddedImageSize = padded
        columnSize = columns
    }

    /// Height and width of the zero-padded image.
    var paddedHeight: Int { height + 2 * padding }
    var paddedWidth: Int { width + 2 * padding }

    /// Copies one image into the interior of its zero-padded version. Only the interior is
    /// written: the border of `padded` must already be zero (and stays so).
    func pad(_ image: UnsafePointer<Float>, into padded: UnsafeMutablePointer<Float>) {
        let (h, w, pw) = (height, width, paddedWidth)
        for c in 0..<channels {
            let src = image + c * h * w
            let dst = padded + (c * paddedHeight + padding) * pw + padding
            for row in 0..<h {
                let s = src + row * w, d = dst + row * pw
                for i in 0..<w { d[i] = s[i] }
            }
        }
    }

    /// Floats of slack `im2col` needs after the padded image it reads and after the column
    /// matrix it writes (see there).
    static let slack = 4

    /// Unfolds one zero-padded image (see `pad`) into its column matrix `cols[C·k·k, OH·OW]`:
    /// `cols[(c·k + ki)·k + kj, oh·OW + ow] = x[c, oh·s − p + ki, ow·s − p + kj]` (zero outside).
    /// A convolution is then the product `W[out, C·k·k] · cols`.
    ///
    /// Reading the padded copy makes every row a fixed-length copy with no bounds checks. With
    /// stride 1 each row is copied in whole 4-float vectors: the last vector may run up to 3
    /// floats past the row, into the start of the next row (written right after, which
    /// overwrites them) or, for the very last row, into `slack` floats after the matrix; reads
    /// likewise run up to 3 floats past, so `padded` needs `slack` readable floats after it.
    /// Short rows (14 or 28 floats in an MNIST CNN) then copy without a scalar tail loop (3%
    /// off the whole training step of that CNN).
    func im2col(padded: UnsafePointer<Float>, into cols: UnsafeMutablePointer<Float>) {
        let (pw, ow, s) = (paddedWidth, outWidth, stride)
        var row = cols
        for c in 0..<channels {
            let plane = padded + c * paddedHeight * pw
            for ki in 0..<kernel {
                for kj in 0..<kernel {
                    for oh in 0..<outHeight {
                        let src = plane + (oh * s + ki) * pw + kj, dst = row + oh * ow
                        if s == 1 {
                            var i = 0
                            while i < ow {
                                let v = UnsafeRawPointer(src + i).loadUnaligned(as: SIMD4<Float>.self)
                                UnsafeMutableRawPointer(dst + i).storeBytes(of: v, as: SIMD4<Float>.self)
                                i += 4
                            }
                        } else {
                            for i in 0..<ow { dst[i] = src[i * s] }
                        }
                    }
                    row += outPixels
                }
            }
        }
    }

    /// The adjoint of `im2col`: folds a column matrix back into a zero-padded image, summing the
    /// entries that came from the same pixel. Overwrites `padded`; `crop` then extracts the image.
    func col2im(_ cols: UnsafePointer<Float>, intoPadded padded: UnsafeMutablePointer<Float>) {
        padded.update(repeating: 0, count: paddedImageSize)
        let (pw, ow, s) = (paddedWidth, outWidth, stride)
        var row = cols
        for c in 0..<channels {
            let plane = padded + c * paddedHeight * pw
            for ki in 0..<kernel {
                for kj in 0..<kernel {
                    for oh in 0..<outHeight {
                        let dst = plane + (oh * s + ki) * pw + kj, src = row + oh * ow
                        if s == 1 {
                            for i in 0..<ow { dst[i] += src[i] }
                        } else {
                            for i in 0..<ow { dst[i * s] += src[i] }
                        }
                    }
                    row += outPixels
                }
            }
        }
    }

    /// Copies the interior of a zero-padded image out into `image` (the inverse of `pad`).
    func crop(_ padded: UnsafePointer<Float>, into image: UnsafeMutablePointer<Float>) {
        let (h, w, pw) = (height, width, paddedWidth)
        for c in 0..<channels {
            let src = padded + (c * paddedHeight + padding) * pw + padding
            let dst = image + c * h * w
            for row in 0..<h {
                let s = src + row * pw, d = dst + row * w
                for i in 0..<w { d[i] = s[i] }
            }
        }
    }
}

