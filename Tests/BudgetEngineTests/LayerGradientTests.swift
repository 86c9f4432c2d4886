import Testing
@testable import BudgetEngine

/// Finite-difference checks of every layer's and loss's gradients (see `GradientCheck` for the
/// tolerance: rtol 1e-2, atol 1e-3 of the tensor's largest numeric gradient, step h = 1e-2 on
/// Float32 with Float64 accumulation).
@Suite struct LayerGradientTests {
    private func expectGradients(
        _ layer: Layer, _ input: Tensor, checkInput: Bool = true, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let report = try GradientCheck.check(layer, input: input, checkInput: checkInput)
        let passed = report.passed
        #expect(passed, "\(layer.summary): \(report.summary)", sourceLocation: sourceLocation)
    }

    // MARK: existing layers

    @Test func linear() throws {
        var rng = RandomGenerator(seed: 1)
        try expectGradients(try Linear(inputs: 5, outputs: 4, rng: &rng), try GradientCheck.normal([3, 5], seed: 2))
        try expectGradients(try Linear(inputs: 3, outputs: 2, bias: false, rng: &rng), try GradientCheck.normal([4, 3], seed: 3))
        // Split across workers: output features for Y, dW and db; input features for dX.
        for workers in [2, 3] {
            let split = try Linear(inputs: 4, outputs: 5, rng: &rng)
            split.workersOverride = workers
            try expectGradients(split, try GradientCheck.normal([5, 4], seed: UInt64(workers)))
        }
    }

    @Test func relu() throws {
        try expectGradients(ReLU(), try GradientCheck.awayFromZero([3, 7], seed: 4))
    }

    @Test func flatten() throws {
        try expectGradients(Flatten(), try GradientCheck.normal([2, 3, 2, 2], seed: 5))
    }

    @Test func sequential() throws {
        var rng = RandomGenerator(seed: 6)
        let model = try Sequential([
            try Linear(inputs: 6, outputs: 5, rng: &rng), Tanh(), try Linear(inputs: 5, outputs: 3, rng: &rng),
        ])
        try expectGradients(model, try GradientCheck.normal([4, 6], seed: 7))
    }

    // MARK: convolution

    @Test(arguments: [
        // (in, out, kernel, stride, padding, bias, input [N, C, H, W], workers)
        (3, 4, 3, 1, 1, true, [2, 3, 5, 5], 1),
        (2, 3, 3, 2, 1, true, [2, 2, 7, 6], 1),
        (2, 2, 2, 1, 0, false, [3, 2, 4, 5], 1),
        (2, 3, 1, 1, 0, true, [2, 2, 3, 3], 1),
        (2, 3, 3, 2, 2, true, [3, 2, 5, 6], 2),
        (3, 2, 3, 1, 1, true, [5, 3, 4, 4], 3),
    ])
    func conv2d(_ c: (Int, Int, Int, Int, Int, Bool, [Int], Int)) throws {
        var rng = RandomGenerator(seed: 8)
        let conv = try Conv2d(
            inChannels: c.0, outChannels: c.1, kernel: c.2, stride: c.3, padding: c.4, bias: c.5, rng: &rng)
        conv.workersOverride = c.7
        try expectGradients(conv, try GradientCheck.normal(c.6, seed: 9))
        conv.pixelMajorOverride = true
        try expectGradients(conv, try GradientCheck.normal(c.6, seed: 9))
        // Stride 1: the input gradient by col2im as well as by the transposed convolution.
        conv.transposedGradientOverride = false
        try expectGradients(conv, try GradientCheck.normal(c.6, seed: 9))
    }

    /// The first layer of a model skips its input gradient; the parameter gradients must not change.
    @Test func conv2dWithoutInputGradient() throws {
        var rng = RandomGenerator(seed: 10)
        let conv = try Conv2d(inChannels: 2, outChannels: 3, kernel: 3, padding: 1, rng: &rng)
        conv.needsInputGradient = false
        try expectGradients(conv, try GradientCheck.normal([2, 2, 4, 4], seed: 11), checkInput: false)
    }

    // MARK: normalisation

    @Test(arguments: [true, false])
    func batchNorm1d(training: Bool) throws {
        let bn = try BatchNorm(channels: 4, kind: .oneD)
        try randomizeAffineAndRunningStatistics(bn, seed: 12)
        bn.setTraining(training)
        try expectGradients(bn, try GradientCheck.normal([6, 4], seed: 13))
    }

    @Test(arguments: [true, false])
    func batchNorm2d(training: Bool) throws {
        let bn = try BatchNorm(channels: 3, kind: .twoD)
        try randomizeAffineAndRunningStatistics(bn, seed: 14)
        bn.setTraining(training)
        try expectGradients(bn, try GradientCheck.normal([3, 3, 3, 2], seed: 15))
    }

    @Test func batchNorm1dOnSequences() throws {
        let bn = try BatchNorm(channels: 2, kind: .oneD)
        try randomizeAffineAndRunningStatistics(bn, seed: 16)
        try expectGradients(bn, try GradientCheck.normal([3, 2, 4], seed: 17))
    }

    /// γ ≠ 1, β ≠ 0 and non-trivial running statistics, so that a gradient ignoring any of them fails.
    private func randomizeAffineAndRunningStatistics(_ bn: BatchNorm, seed: UInt64) throws {
        var rng = RandomGenerator(seed: seed)
        for i in 0..<bn.channels {
            bn.weight.value[i] = rng.uniform(0.5, 2)
            bn.bias.value[i] = rng.uniform(-1, 1)
            bn.runningMean[i] = rng.uniform(-0.5, 0.5)
            bn.runningVariance[i] = rng.uniform(0.5, 2)
        }
    }

    // MARK: activations

    @Test func leakyReLU() throws {
        try expectGradients(try LeakyReLU(slope: 0.1), try GradientCheck.awayFromZero([4, 6], seed: 18))
    }

    @Test func tanh() throws {
        try expectGradients(Tanh(), try GradientCheck.normal([4, 6], seed: 19))
    }

    @Test func sigmoid() throws {
        try expectGradients(Sigmoid(), try GradientCheck.normal([4, 6], seed: 20))
    }

    @Test func gelu() throws {
        try expectGradients(GELU(), try GradientCheck.normal([4, 6], seed: 21))
    }

    // MARK: pooling

    @Test(arguments: [(2, 2, [2, 2, 4, 4]), (3, 2, [1, 2, 7, 7]), (2, 1, [2, 1, 4, 5]), (2, 2, [1, 2, 5, 5])])
    func maxPool2d(_ c: (Int, Int, [Int])) throws {
        // Inputs spaced 0.05 apart, step 0.01: no perturbation changes which input is the maximum.
        try expectGradients(try MaxPool2d(kernel: c.0, stride: c.1), try GradientCheck.distinct(c.2, seed: 22))
    }

    @Test(arguments: [(2, 2, [2, 2, 4, 4]), (3, 2, [1, 2, 7, 6]), (2, 1, [2, 1, 3, 4])])
    func avgPool2d(_ c: (Int, Int, [Int])) throws {
        try expectGradients(try AvgPool2d(kernel: c.0, stride: c.1), try GradientCheck.normal(c.2, seed: 23))
    }

    @Test func globalAvgPool() throws {
        try expectGradients(GlobalAvgPool(), try GradientCheck.normal([2, 3, 3, 4], seed: 24))
    }

    // MARK: dropout

    @Test func dropoutInEvaluationModeIsTheIdentity() throws {
        var rng = RandomGenerator(seed: 25)
        let dropout = try Dropout(p: 0.5, rng: &rng)
        dropout.setTraining(false)
        try expectGradients(dropout, try GradientCheck.normal([3, 5], seed: 26))
    }

    /// In training mode the mask is random on each forward pass, so finite differences do not
    /// apply; instead: each output is 0 or x/(1 − p), and the gradient is dy times that same factor.
    @Test func dropoutInTrainingModeScalesTheGradientByTheMask() throws {
        var rng = RandomGenerator(seed: 27)
        let p: Float = 0.25
        let dropout = try Dropout(p: p, rng: &rng)
        let x = try GradientCheck.awayFromZero([8, 50], seed: 28)
        let y = try dropout.forward(x).values
        let dy = try GradientCheck.normal([8, 50], seed: 29)
        let dx = try dropout.backward(dy).values
        var dropped = 0
        for i in 0..<x.count {
            let factor = y[i] / x[i]
            let kept = abs(factor - 1 / (1 - p)) < 1e-6
            #expect(kept || factor == 0, "element \(i): factor \(factor)")
            if !kept { dropped += 1 }
            #expect(abs(dx[i] - dy[i] * (kept ? 1 / (1 - p) : 0)) < 1e-6)
        }
        #expect(dropped > 0 && dropped < x.count)
    }

    // MARK: residual

    @Test func residualWithIdentityShortcut() throws {
        var rng = RandomGenerator(seed: 30)
        let block = try Sequential([
            try Conv2d(inChannels: 2, outChannels: 2, kernel: 3, padding: 1, rng: &rng),
            try BatchNorm(channels: 2, kind: .twoD), Tanh(),
            try Conv2d(inChannels: 2, outChannels: 2, kernel: 3, padding: 1, rng: &rng),
        ])
        try expectGradients(try Residual(block: block), try GradientCheck.normal([2, 2, 4, 4], seed: 31))
    }

    @Test func residualWithProjectionShortcut() throws {
        var rng = RandomGenerator(seed: 32)
        let block = try Sequential([
            try Conv2d(inChannels: 2, outChannels: 3, kernel: 3, stride: 2, padding: 1, rng: &rng), GELU(),
        ])
        let shortcut = try Sequential([
            try Conv2d(inChannels: 2, outChannels: 3, kernel: 1, stride: 2, bias: false, rng: &rng),
            try BatchNorm(channels: 3, kind: .twoD),
        ])
        try expectGradients(try Residual(block: block, shortcut: shortcut), try GradientCheck.normal([3, 2, 5, 5], seed: 33))
    }

    // MARK: losses

    @Test func crossEntropy() throws {
        let report = try GradientCheck.check(CrossEntropy(), output: try GradientCheck.normal([4, 5], seed: 34), labels: [0, 3, 4, 1])
        let passed = report.passed
        #expect(passed, "\(report.summary)")
    }

    @Test func meanSquaredError() throws {
        let report = try GradientCheck.check(MeanSquaredError(), output: try GradientCheck.normal([4, 5], seed: 35), labels: [2, 2, 0, 4])
        let passed = report.passed
        #expect(passed, "\(report.summary)")
    }

    /// The checker itself must catch a wrong gradient, or every test above proves nothing.
    @Test func checkerRejectsAWrongGradient() throws {
        let report = try GradientCheck.check(WrongGradient(), input: try GradientCheck.normal([2, 3], seed: 36))
        #expect(report.compared == 6)
        #expect(report.mismatches.count == 6)
    }
}

/// `y = 2x` whose backward claims `dx = dy` (half the true gradient).
private final class WrongGradient: Layer {
    var isTraining = true
    private let output = Tensor(shape: [0])
    var summary: String { "WrongGradient" }
    func outputShape(for inputShape: [Int]) throws -> [Int] { inputShape }
    func forward(_ x: Tensor) throws -> Tensor {
        try output.resize(toShape: x.shape)
        for i in 0..<x.count { output[i] = 2 * x[i] }
        return output
    }
    func backward(_ dy: Tensor) throws -> Tensor { dy }
}
