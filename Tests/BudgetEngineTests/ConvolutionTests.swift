import Testing
@testable import BudgetEngine

/// Conv2d against a naive nested-loop convolution, its argument checks and initialisation.
@Suite struct ConvolutionTests {
    /// The definition, term by term, in double precision:
    /// `y[n, o, i, j] = b[o] + Σ_{c, ki, kj} W[o, c, ki, kj] · x[n, c, i·s − p + ki, j·s − p + kj]`.
    private func naiveConvolution(_ conv: Conv2d, _ x: Tensor) -> [Double] {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (k, s, p, o) = (conv.kernel, conv.stride, conv.padding, conv.outChannels)
        let oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1
        var y: [Double] = []
        for item in 0..<n {
            for out in 0..<o {
                for i in 0..<oh {
                    for j in 0..<ow {
                        var sum = conv.bias.map { Double($0.value[out]) } ?? 0
                        for ch in 0..<c {
                            for ki in 0..<k {
                                for kj in 0..<k {
                                    let row = i * s - p + ki, col = j * s - p + kj
                                    guard row >= 0, row < h, col >= 0, col < w else { continue }
                                    let weight = conv.weight.value[((out * c + ch) * k + ki) * k + kj]
                                    sum += Double(weight) * Double(x[((item * c + ch) * h + row) * w + col])
                                }
                            }
                        }
                        y.append(sum)
                    }
                }
            }
        }
        return y
    }

    private func expectMatchesNaive(_ conv: Conv2d, input: Tensor, expectedShape: [Int]) throws {
        let y = try conv.forward(input)
        #expect(y.shape == expectedShape)
        let reference = naiveConvolution(conv, input)
        #expect(reference.count == y.count)
        // Float32 GEMM against a double-precision sum of at most C·k·k terms of size ~1.
        let worst = zip(y.values, reference).map { abs(Double($0) - $1) }.max() ?? .infinity
        #expect(worst < 1e-5, "largest difference \(worst)")
    }

    /// Both forms of the forward product (channel-major and pixel-major) on 1 and 2 workers.
    @Test(arguments: [1, 2], [false, true])
    func strideTwoPaddingOneMatchesNaiveLoops(workers: Int, pixelMajor: Bool) throws {
        var rng = RandomGenerator(seed: 1)
        let conv = try Conv2d(inChannels: 3, outChannels: 4, kernel: 3, stride: 2, padding: 1, rng: &rng)
        conv.workersOverride = workers
        conv.pixelMajorOverride = pixelMajor
        // 7x6 → OH = (7 + 2 − 3)/2 + 1 = 4, OW = (6 + 2 − 3)/2 + 1 = 3.
        try expectMatchesNaive(conv, input: try GradientCheck.normal([2, 3, 7, 6], seed: 2), expectedShape: [2, 4, 4, 3])
    }

    @Test func otherGeometriesMatchNaiveLoops() throws {
        var rng = RandomGenerator(seed: 3)
        let cases: [(Int, Int, Int, Int, Int, Bool, [Int], [Int])] = [
            (1, 2, 3, 1, 1, true, [3, 1, 5, 5], [3, 2, 5, 5]),
            (2, 3, 2, 1, 0, false, [2, 2, 4, 5], [2, 3, 3, 4]),
            (2, 2, 5, 3, 2, true, [1, 2, 6, 8], [1, 2, 2, 3]),
            (3, 2, 1, 2, 0, true, [2, 3, 5, 4], [2, 2, 3, 2]),
            (1, 1, 3, 1, 2, true, [1, 1, 1, 1], [1, 1, 3, 3]),
        ]
        for c in cases {
            let conv = try Conv2d(inChannels: c.0, outChannels: c.1, kernel: c.2, stride: c.3, padding: c.4, bias: c.5, rng: &rng)
            try expectMatchesNaive(conv, input: try GradientCheck.normal(c.6, seed: 4), expectedShape: c.7)
            conv.pixelMajorOverride = true
            try expectMatchesNaive(conv, input: try GradientCheck.normal(c.6, seed: 4), expectedShape: c.7)
        }
    }

    /// The shape rule picks the pixel-major product for a wide plane and a long patch (the
    /// ResNet's 16 → 16 conv on 28x28), and not for a narrow plane or a tiny patch.
    @Test func productFormFollowsTheShape() throws {
        var rng = RandomGenerator(seed: 6)
        let wide = try Conv2d(inChannels: 16, outChannels: 16, kernel: 3, padding: 1, bias: false, rng: &rng)
        let tinyPatch = try Conv2d(inChannels: 1, outChannels: 16, kernel: 3, padding: 1, rng: &rng)
        let narrow = try Conv2d(inChannels: 64, outChannels: 64, kernel: 3, padding: 1, rng: &rng)
        #expect(try wide.usesPixelMajorProduct(for: [2, 16, 28, 28]))
        #expect(try !tinyPatch.usesPixelMajorProduct(for: [2, 1, 28, 28]))
        #expect(try !narrow.usesPixelMajorProduct(for: [2, 64, 7, 7]))
        try expectMatchesNaive(wide, input: try GradientCheck.normal([2, 16, 28, 28], seed: 7), expectedShape: [2, 16, 28, 28])
    }

    /// A smaller last batch reuses the buffers and still gives the right values, and a larger
    /// one after it too.
    @Test func batchSizeCanChangeBetweenCalls() throws {
        var rng = RandomGenerator(seed: 5)
        let conv = try Conv2d(inChannels: 2, outChannels: 3, kernel: 3, padding: 1, rng: &rng)
        conv.workersOverride = 2
        for n in [4, 3, 1, 5] {
            try expectMatchesNaive(conv, input: try GradientCheck.normal([n, 2, 4, 4], seed: UInt64(n)), expectedShape: [n, 3, 4, 4])
        }
    }

    @Test func summaryReadsLikeTorch() throws {
        var rng = RandomGenerator(seed: 6)
        #expect(try Conv2d(inChannels: 1, outChannels: 16, kernel: 3, padding: 1, rng: &rng).summary
            == "Conv2d(1 -> 16, 3x3, stride 1, padding 1)")
        #expect(try Conv2d(inChannels: 16, outChannels: 32, kernel: 1, stride: 2, bias: false, rng: &rng).summary
            == "Conv2d(16 -> 32, 1x1, stride 2, padding 0, no bias)")
    }

    @Test func invalidArgumentsAreRejected() {
        var rng = RandomGenerator(seed: 7)
        let bad: [(Int, Int, Int, Int, Int)] = [(0, 4, 3, 1, 0), (3, 0, 3, 1, 0), (3, 4, 0, 1, 0), (3, 4, 3, 0, 0), (3, 4, 3, 1, -1)]
        for b in bad {
            #expect(throws: EngineError.self) {
                try Conv2d(inChannels: b.0, outChannels: b.1, kernel: b.2, stride: b.3, padding: b.4, rng: &rng)
            }
        }
    }

    @Test func inputsThatDoNotFitNameTheLayer() throws {
        var rng = RandomGenerator(seed: 8)
        let conv = try Conv2d(inChannels: 1, outChannels: 2, kernel: 5, rng: &rng)
        for shape in [[2, 1, 4, 8], [2, 3, 8, 8], [2, 8, 8]] {
            let error = try #require(throws: EngineError.self) { try conv.forward(Tensor(shape: shape)) }
            guard case .shapeMismatch = error else { Issue.record("expected a shape mismatch, got \(error)"); continue }
            #expect(error.description.hasPrefix("Conv2d(1 -> 2, 5x5, stride 1, padding 0): expected input [N, 1, H, W]"))
            #expect(error.description.hasSuffix("got \(shape.shapeString)"))
            #expect(throws: EngineError.self) { try conv.outputShape(for: shape) }
        }
    }

    /// PyTorch's default: weight and bias uniform in ±1/√(in·k·k).
    @Test func initialisationIsUniformWithinOneOverSqrtFanIn() throws {
        var rng = RandomGenerator(seed: 9)
        let conv = try Conv2d(inChannels: 16, outChannels: 32, kernel: 3, rng: &rng)
        let bound: Float = 1 / (16 * 9 as Float).squareRoot()
        let w = conv.weight.value.values
        #expect(w.allSatisfy { abs($0) <= bound })
        #expect(w.max()! > 0.95 * bound && w.min()! < -0.95 * bound)
        // Uniform on ±b has mean 0 and variance b²/3; 4608 draws pin both down closely.
        let mean = w.reduce(0, +) / Float(w.count)
        let variance = w.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(w.count)
        #expect(abs(mean) < 0.05 * bound)
        #expect(abs(variance / (bound * bound / 3) - 1) < 0.1)
        #expect(conv.bias!.value.values.allSatisfy { abs($0) <= bound })
    }
}

/// The backward pass of stride-1 convolutions from the columns of the output gradient
/// (`StrideOneBackward`) against the definitions, term by term.
@Suite struct ConvolutionStrideOneBackwardTests {
    /// Both gradients by definition, in double precision, each term once:
    ///
    ///     dx[n, c, h, w]   = Σ W[o, c, ki, kj] · dy[n, o, i, j]
    ///     dW[o, c, ki, kj] = Σ x[n, c, h, w]   · dy[n, o, i, j]
    ///
    /// over every output position `(i, j)` and kernel offset with `h = i·s − p + ki`,
    /// `w = j·s − p + kj` inside the image.
    private func naiveGradients(_ conv: Conv2d, _ x: Tensor, _ dy: Tensor) -> (dx: [Double], dW: [Double]) {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (k, s, p, o) = (conv.kernel, conv.stride, conv.padding, conv.outChannels)
        let (oh, ow) = (dy.shape[2], dy.shape[3])
        var dx = [Double](repeating: 0, count: n * c * h * w), dW = [Double](repeating: 0, count: o * c * k * k)
        for item in 0..<n {
            for out in 0..<o {
                for i in 0..<oh {
                    for j in 0..<ow {
                        let g = Double(dy[((item * o + out) * oh + i) * ow + j])
                        for ch in 0..<c {
                            for ki in 0..<k {
                                for kj in 0..<k {
                                    let row = i * s - p + ki, col = j * s - p + kj
                                    guard row >= 0, row < h, col >= 0, col < w else { continue }
                                    let input = ((item * c + ch) * h + row) * w + col, weight = ((out * c + ch) * k + ki) * k + kj
                                    dx[input] += g * Double(conv.weight.value[weight])
                                    dW[weight] += g * Double(x[input])
                                }
                            }
                        }
                    }
                }
            }
        }
        return (dx, dW)
    }

    /// The paper's ResNet shapes (3x3 "same" at 28, 14 and 7 pixels, 16 to 64 channels) and
    /// others (1x1, 5x5, padding 2 of a 3x3: `p′ = 0`), on 1 and 2 workers, both forms of the
    /// product; each against the naive sums and against the col2im path. The last field says
    /// whether the shape takes `StrideOneBackward` (more output than input channels, or a
    /// "valid" convolution whose dy columns are larger, do not).
    @Test(arguments: [
        (16, 16, 3, 1, [3, 16, 28, 28], true), (32, 32, 3, 1, [2, 32, 14, 14], true), (64, 64, 3, 1, [2, 64, 7, 7], true),
        (8, 4, 1, 0, [2, 8, 5, 5], true), (3, 2, 5, 2, [2, 3, 6, 7], true), (3, 2, 3, 2, [2, 3, 4, 4], true),
        (1, 16, 3, 1, [2, 1, 28, 28], false), (16, 32, 3, 1, [2, 16, 14, 14], false), (3, 2, 3, 0, [2, 3, 5, 4], false),
    ])
    func matchesTheDefinitionAndCol2im(_ c: (Int, Int, Int, Int, [Int], Bool)) throws {
        var rng = RandomGenerator(seed: 21)
        let conv = try Conv2d(inChannels: c.0, outChannels: c.1, kernel: c.2, padding: c.3, bias: false, rng: &rng)
        let x = try GradientCheck.normal(c.4, seed: 22)
        #expect(try conv.usesStrideOneBackward(for: c.4) == c.5, "\(conv.summary) on \(c.4)")
        for workers in [1, 2] {
            conv.workersOverride = workers
            let y = try conv.forward(x)
            let dy = try GradientCheck.normal(y.shape, seed: 23)
            let (reference, referenceWeights) = naiveGradients(conv, x, dy)
            conv.transposedGradientOverride = nil
            conv.weight.gradient.zero()
            let transposed = try conv.backward(dy).values
            let weights = conv.weight.gradient.values
            conv.transposedGradientOverride = false
            conv.weight.gradient.zero()
            let scattered = try conv.backward(dy).values
            let scatteredWeights = conv.weight.gradient.values
            // dW sums N·H·W ≤ 2352 terms of size ~1.
            let worstWeight = zip(weights, referenceWeights).map { abs(Double($0) - $1) }.max() ?? .infinity
            let weightsApart = zip(weights, scatteredWeights).map { abs($0 - $1) }.max() ?? .infinity
            #expect(worstWeight < 2e-3, "\(conv.summary), \(workers) workers: dW differs from the definition by \(worstWeight)")
            #expect(weightsApart < 2e-3, "\(conv.summary), \(workers) workers: the two paths' dW differ by \(weightsApart)")
            // Float32 products of at most out·k·k = 576 terms of size ~0.1 against double sums.
            let worst = zip(transposed, reference).map { abs(Double($0) - $1) }.max() ?? .infinity
            let apart = zip(transposed, scattered).map { abs($0 - $1) }.max() ?? .infinity
            #expect(worst < 1e-4, "\(conv.summary), \(workers) workers: largest difference from the definition \(worst)")
            #expect(apart < 1e-4, "\(conv.summary), \(workers) workers: the two paths differ by \(apart)")
        }
    }

    @Test func appliesToStrideOneWithPaddingBelowTheKernelAndNoWiderOutput() throws {
        func geometry(_ k: Int, _ s: Int, _ p: Int) throws -> WindowGeometry {
            try #require(try WindowGeometry(channels: 2, height: 9, width: 9, kernel: k, stride: s, padding: p, owner: "test"))
        }
        #expect(StrideOneBackward.applies(to: try geometry(3, 1, 1), outChannels: 2))
        #expect(StrideOneBackward.applies(to: try geometry(3, 1, 1), outChannels: 1))
        #expect(!StrideOneBackward.applies(to: try geometry(3, 1, 1), outChannels: 3))
        #expect(StrideOneBackward.applies(to: try geometry(1, 1, 0), outChannels: 2))
        #expect(StrideOneBackward.applies(to: try geometry(3, 1, 2), outChannels: 2))
        #expect(!StrideOneBackward.applies(to: try geometry(3, 1, 3), outChannels: 2))
        #expect(!StrideOneBackward.applies(to: try geometry(3, 2, 1), outChannels: 2))
    }
}
