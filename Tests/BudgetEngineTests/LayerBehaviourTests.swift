import Foundation
import Testing
@testable import BudgetEngine

/// Values, statistics, errors and printouts of the layers, and a small CNN that learns.
@Suite struct LayerBehaviourTests {
    // MARK: batch normalisation

    /// One channel holds 1, 2, 3, 4 (N = 2, 2 values each) and the other 0, 0, 2, 6:
    /// means 2.5 and 2; biased variances 1.25 and 6; unbiased (÷3) 5/3 and 8.
    @Test func batchNormRunningStatisticsAfterOneBatch() throws {
        let bn = try BatchNorm(channels: 2, kind: .oneD)
        // [N = 2, C = 2, L = 2]: item 0 = [[1, 2], [0, 0]], item 1 = [[3, 4], [2, 6]]
        let x = try Tensor(shape: [2, 2, 2], values: [1, 2, 0, 0, 3, 4, 2, 6])
        let y = try bn.forward(x)
        // running = 0.9·initial + 0.1·batch, initial mean 0 and variance 1.
        let expectedMean: [Float] = [0.25, 0.2]
        let expectedVariance: [Float] = [0.9 + 0.1 * 5 / 3, 0.9 + 0.1 * 8]
        for c in 0..<2 {
            #expect(abs(bn.runningMean[c] - expectedMean[c]) < 1e-6)
            #expect(abs(bn.runningVariance[c] - expectedVariance[c]) < 1e-6)
        }
        // Normalised with the batch statistics: (x − 2.5)/√(1.25 + 1e-5) for the first channel.
        let first = 1 / (1.25 + 1e-5 as Double).squareRoot(), second = 1 / (6 + 1e-5 as Double).squareRoot()
        let expected: [Double] = [-1.5 * first, -0.5 * first, -2 * second, -2 * second, 0.5 * first, 1.5 * first, 0, 4 * second]
        for i in 0..<8 { #expect(abs(Double(y[i]) - expected[i]) < 1e-5) }
    }

    @Test func batchNorm2dUsesRunningStatisticsInEvaluation() throws {
        let bn = try BatchNorm(channels: 2, kind: .twoD)
        bn.runningMean[0] = 1; bn.runningMean[1] = -2
        bn.runningVariance[0] = 4; bn.runningVariance[1] = 0.25
        bn.weight.value[0] = 3; bn.bias.value[1] = 0.5
        bn.setTraining(false)
        let x = try Tensor(shape: [1, 2, 1, 2], values: [1, 5, -2, 0])
        let y = try bn.forward(x).values
        let eps = 1e-5
        let expected = [0, 3 * 4 / (4 + eps).squareRoot(), 0.5, 2 / (0.25 + eps).squareRoot() + 0.5]
        for i in 0..<4 { #expect(abs(Double(y[i]) - expected[i]) < 1e-5) }
        #expect(bn.runningMean[0] == 1 && bn.runningVariance[1] == 0.25, "evaluation must not move the running statistics")
    }

    /// The one-read statistics against a double-precision two-pass reference, on inputs where
    /// `E[x²] − E[x]²` in Float would lose every digit: values 1000 + N(0, 1) with an outlier
    /// (0) first, so no shift by a single value saves it either.
    @Test func batchNormStatisticsSurviveALargeOffsetAndAnOutlier() throws {
        let bn = try BatchNorm(channels: 2, kind: .twoD)
        let x = try GradientCheck.normal([4, 2, 5, 7], seed: 31)
        for i in 0..<x.count { x[i] += 1000 }
        x[0] = 0
        let y = try bn.forward(x)
        let (n, c, spatial) = (4, 2, 35)
        for ch in 0..<c {
            var values: [Double] = []
            for item in 0..<n { for i in 0..<spatial { values.append(Double(x[(item * c + ch) * spatial + i])) } }
            let mean = values.reduce(0, +) / Double(values.count)
            let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)
            let expectedRunningVariance = 0.9 + 0.1 * variance * Double(values.count) / Double(values.count - 1)
            #expect(abs(Double(bn.runningMean[ch]) - 0.1 * mean) < 1e-3)
            #expect(abs(Double(bn.runningVariance[ch]) - expectedRunningVariance) < 1e-3 * expectedRunningVariance)
            for item in 0..<n {
                for i in 0..<spatial {
                    let index = (item * c + ch) * spatial + i
                    let expected = (Double(x[index]) - mean) / (variance + 1e-5).squareRoot()
                    #expect(abs(Double(y[index]) - expected) < 2e-3, "channel \(ch), value \(index)")
                }
            }
        }
    }

    @Test func batchNormNeedsTwoValuesPerChannelToTrain() throws {
        let bn = try BatchNorm(channels: 3, kind: .oneD)
        let error = try #require(throws: EngineError.self) { try bn.forward(Tensor(shape: [1, 3])) }
        #expect(error.description.contains("BatchNorm1d(3)"))
        bn.setTraining(false)
        _ = try bn.forward(Tensor(shape: [1, 3]))
    }

    @Test func batchNormSummariesAndShapes() throws {
        let one = try BatchNorm(channels: 16, kind: .oneD), two = try BatchNorm(channels: 16, kind: .twoD)
        #expect(one.summary == "BatchNorm1d(16)")
        #expect(two.summary == "BatchNorm2d(16)")
        #expect(two.parameterCount == 32)
        #expect(throws: EngineError.self) { try two.outputShape(for: [4, 16]) }
        #expect(throws: EngineError.self) { try one.outputShape(for: [4, 8]) }
        #expect(throws: EngineError.self) { try BatchNorm(channels: 0, kind: .twoD) }
    }

    // MARK: activations, pooling, dropout values

    @Test func activationValues() throws {
        let x = try Tensor(shape: [1, 4], values: [-2, -1, 0, 1])
        let exact = [-2.0, -1, 0, 1]
        // GELU(x) = x·Φ(x), Φ from erfc (the standard normal CDF).
        let gelu = try GELU().forward(x).values
        let sigmoid = try Sigmoid().forward(x).values
        let leaky = try LeakyReLU(slope: 0.2).forward(x).values
        let tanh = try Tanh().forward(x).values
        for i in 0..<4 {
            let v = exact[i]
            #expect(abs(Double(gelu[i]) - v * 0.5 * erfc(-v / 2.0.squareRoot())) < 1e-6)
            #expect(abs(Double(sigmoid[i]) - 1 / (1 + Foundation.exp(-v))) < 1e-6)
            #expect(abs(Double(leaky[i]) - (v > 0 ? v : 0.2 * v)) < 1e-6)
            #expect(abs(Double(tanh[i]) - Foundation.tanh(v)) < 1e-6)
        }
        #expect(try Sigmoid().forward(Tensor(shape: [2], values: [-200, 200])).values == [0, 1])
        #expect(try LeakyReLU().summary == "LeakyReLU(0.01)")
    }

    /// Flatten copies nothing: its output shows its input's values, follows the input to new
    /// storage when the batch grows, and a resize gives a view storage of its own again.
    @Test func flattenViewsItsInputWithoutCopying() throws {
        let flatten = Flatten()
        let x = try Tensor(shape: [2, 1, 2, 2], values: (0..<8).map(Float.init))
        let y = try flatten.forward(x)
        #expect(y.shape == [2, 4] && y.data == x.data)
        try x.resize(toShape: [3, 1, 2, 2])  // a larger batch: new storage
        x[11] = 7
        let z = try flatten.forward(x)
        #expect(z.shape == [3, 4] && z.data == x.data && z[11] == 7)
        let dx = try flatten.backward(z)
        #expect(dx.shape == [3, 1, 2, 2] && dx.data == z.data)

        let view = Tensor(shape: [0])
        try view.view(of: x, as: [12])
        try view.resize(toShape: [12])
        view.fill(-1)
        #expect(view.data != x.data && x[11] == 7)
        #expect(throws: EngineError.self) { try view.view(of: x, as: [5]) }
    }

    /// A 4x4 plane with a tie in the top-left window: the gradient goes to the first maximum.
    @Test func maxPoolPicksTheFirstMaximum() throws {
        let pool = try MaxPool2d(kernel: 2)
        #expect(pool.summary == "MaxPool2d(2x2, stride 2)")
        let x = try Tensor(shape: [1, 1, 4, 4], values: [
            5, 1, 0, 2,
            5, 3, 4, 1,
            -1, -2, 7, 7,
            -3, -4, 8, 0,
        ])
        #expect(try pool.forward(x).values == [5, 4, -1, 8])
        let dx = try pool.backward(Tensor(shape: [1, 1, 2, 2], values: [10, 20, 30, 40])).values
        #expect(dx == [10, 0, 0, 0, 0, 0, 20, 0, 30, 0, 0, 0, 0, 0, 40, 0])
    }

    /// PyTorch propagates NaN through max pooling; infinities of both signs are ordinary values.
    @Test(arguments: [2, 3])
    func maxPoolPropagatesNaN(kernel: Int) throws {
        let pool = try MaxPool2d(kernel: kernel)
        var values = [Float](repeating: 1, count: 36)
        values[7] = .nan  // row 1, column 1: inside the first window for both kernel sizes
        values[kernel] = .infinity  // first row of the second window
        values[kernel + 1] = -.infinity
        let y = try pool.forward(Tensor(shape: [1, 1, 6, 6], values: values)).values
        #expect(y[0].isNaN)
        #expect(y[1] == .infinity)
        #expect(y.dropFirst(2).allSatisfy { $0 == 1 })
    }

    /// Overlapping windows (3x3, stride 1) on a plane with one peak: every window picks it.
    @Test func overlappingMaxPoolSumsGradients() throws {
        let pool = try MaxPool2d(kernel: 3, stride: 1)
        var values = [Float](repeating: 0, count: 16)
        values[5] = 9  // (1, 1) lies in all four 3x3 windows of a 4x4 plane
        let x = try Tensor(shape: [1, 1, 4, 4], values: values)
        #expect(try pool.forward(x).values == [9, 9, 9, 9])
        let dx = try pool.backward(Tensor(shape: [1, 1, 2, 2], values: [1, 2, 3, 4])).values
        #expect(dx[5] == 10 && dx.reduce(0, +) == 10)
    }

    @Test func averagePooling() throws {
        let pool = try AvgPool2d(kernel: 2)
        #expect(pool.summary == "AvgPool2d(2x2, stride 2)")
        let x = try Tensor(shape: [1, 1, 2, 4], values: [1, 2, 3, 4, 5, 6, 7, 8])
        #expect(try pool.forward(x).values == [3.5, 5.5])
        #expect(try pool.backward(Tensor(shape: [1, 1, 1, 2], values: [4, 8])).values == [1, 1, 2, 2, 1, 1, 2, 2])
        let global = GlobalAvgPool()
        let g = try global.forward(Tensor(shape: [1, 2, 1, 2], values: [1, 3, -2, 4]))
        #expect(g.shape == [1, 2] && g.values == [2, 1])
        #expect(throws: EngineError.self) { try pool.forward(Tensor(shape: [1, 1, 1, 4])) }
        #expect(throws: EngineError.self) { try MaxPool2d(kernel: 0) }
    }

    @Test func dropoutMasksAreSeededAndKeepAboutOneMinusP() throws {
        func masks(seed: UInt64) throws -> ([Float], [Float]) {
            var rng = RandomGenerator(seed: seed)
            let dropout = try Dropout(p: 0.3, rng: &rng)
            let x = Tensor(shape: [10, 1000])
            x.fill(1)
            return (try dropout.forward(x).values, try dropout.forward(x).values)
        }
        let (a1, a2) = try masks(seed: 1), (b1, _) = try masks(seed: 1), (c1, _) = try masks(seed: 2)
        #expect(a1 == b1, "the same initialisation seed gives the same masks")
        #expect(a1 != a2, "each forward pass draws a new mask")
        #expect(a1 != c1)
        // 10 000 Bernoulli(0.7) draws: kept fraction 0.7 ± 0.0046 (one standard deviation).
        let kept = Double(a1.filter { $0 != 0 }.count) / 10_000
        #expect(abs(kept - 0.7) < 0.025)
        #expect(a1.allSatisfy { $0 == 0 || abs($0 - 1 / 0.7) < 1e-6 })
        #expect(throws: EngineError.self) { var r = RandomGenerator(seed: 1); _ = try Dropout(p: 1, rng: &r) }
        var r = RandomGenerator(seed: 1)
        #expect(try Dropout(p: 0.5, rng: &r).summary == "Dropout(p=0.5)")
    }

    @Test func meanSquaredErrorValue() throws {
        // Rows [0.5, 0, 1] with label 0 and [0, 2, 0] with label 2:
        // squared errors 0.25 + 0 + 1 and 0 + 4 + 1, mean over 6 elements = 6.25/6.
        let z = try Tensor(shape: [2, 3], values: [0.5, 0, 1, 0, 2, 0])
        let loss = MeanSquaredError()
        let value = try [Int32(0), 2].withUnsafeBufferPointer { try loss.forward(z, labels: $0) }
        #expect(abs(value - 6.25 / 6) < 1e-7)
        #expect(loss.summary == "MSE")
        #expect(throws: EngineError.self) { try [Int32(0), 3].withUnsafeBufferPointer { try loss.forward(z, labels: $0) } }
    }

    // MARK: errors, counts, printouts

    @Test func shapeErrorsNameTheLayerInsideContainers() throws {
        var rng = RandomGenerator(seed: 1)
        let model = try Sequential([
            try Linear(inputs: 4, outputs: 64, rng: &rng), ReLU(), try Linear(inputs: 100, outputs: 10, rng: &rng),
        ])
        let error = try #require(throws: EngineError.self) { try model.forward(Tensor(shape: [8, 4])) }
        guard case .shapeMismatch = error else { Issue.record("expected a shape mismatch, got \(error)"); return }
        #expect(error.description == "Sequential[3] Linear(100 -> 10): expected input [N, 100], got [8, 64]")
        #expect(throws: error) { try model.outputShape(for: [8, 4]) }
    }

    @Test func errorsInsideAResidualNameTheBranch() throws {
        var rng = RandomGenerator(seed: 2)
        let block = try Sequential([
            try Conv2d(inChannels: 4, outChannels: 4, kernel: 3, padding: 1, rng: &rng),
            try Conv2d(inChannels: 8, outChannels: 4, kernel: 3, padding: 1, rng: &rng),
        ])
        let model = try Sequential([ReLU(), try Residual(block: block)])
        let error = try #require(throws: EngineError.self) { try model.forward(Tensor(shape: [2, 4, 5, 5])) }
        #expect(error.description.hasPrefix(
            "Sequential[2] Residual.block Sequential[2] Conv2d(8 -> 4, 3x3, stride 1, padding 1): expected input [N, 8, H, W]"))

        let shortcut = try Linear(inputs: 3, outputs: 5, rng: &rng)
        let mismatch = try Residual(block: Tanh(), shortcut: shortcut)
        let branchError = try #require(throws: EngineError.self) { try mismatch.forward(Tensor(shape: [2, 3])) }
        #expect(branchError.description.hasPrefix("Residual: expected input for which block and shortcut give the same shape"))
        #expect(branchError.description.contains("block gives [2, 3], shortcut gives [2, 5]"))
        #expect(throws: EngineError.self) { try mismatch.outputShape(for: [2, 3]) }
        let inShortcut = try #require(throws: EngineError.self) { try mismatch.forward(Tensor(shape: [2, 4])) }
        #expect(inShortcut.description.hasPrefix("Residual.shortcut Linear(3 -> 5)"))
    }

    @Test func parameterCounts() throws {
        var rng = RandomGenerator(seed: 3)
        #expect(try Conv2d(inChannels: 3, outChannels: 8, kernel: 3, rng: &rng).parameterCount == 8 * 3 * 3 * 3 + 8)
        #expect(try Conv2d(inChannels: 3, outChannels: 8, kernel: 1, bias: false, rng: &rng).parameterCount == 8 * 3)
        let cnn = try benchmarkCNN(rng: &rng)
        let expected = (16 * 1 * 9 + 16) + (32 * 16 * 9 + 32) + (1568 * 128 + 128) + (128 * 10 + 10)
        #expect(cnn.parameterCount == expected)
        #expect(cnn.parameters.count == 8)
        let unit = try Residual(block: try BatchNorm(channels: 4, kind: .twoD), shortcut: try Conv2d(inChannels: 4, outChannels: 4, kernel: 1, rng: &rng))
        #expect(unit.parameterCount == 8 + 20)
        #expect(try Dropout(p: 0.1, rng: &rng).parameterCount == 0)
    }

    @Test func treeDescriptionOfASmallCNN() throws {
        var rng = RandomGenerator(seed: 4)
        let model = try Sequential([
            try Conv2d(inChannels: 1, outChannels: 4, kernel: 3, padding: 1, rng: &rng),
            try BatchNorm(channels: 4, kind: .twoD),
            ReLU(),
            try Residual(
                block: try Sequential([try Conv2d(inChannels: 4, outChannels: 8, kernel: 3, stride: 2, padding: 1, rng: &rng), GELU()]),
                shortcut: try Conv2d(inChannels: 4, outChannels: 8, kernel: 1, stride: 2, bias: false, rng: &rng)),
            try MaxPool2d(kernel: 2),
            GlobalAvgPool(),
            try Dropout(p: 0.5, rng: &rng),
            try Linear(inputs: 8, outputs: 3, rng: &rng),
        ])
        let expected = """
            Sequential  -> [2, 3]
              (1): Conv2d(1 -> 4, 3x3, stride 1, padding 1)  -> [2, 4, 8, 8]
              (2): BatchNorm2d(4)  -> [2, 4, 8, 8]
              (3): ReLU  -> [2, 4, 8, 8]
              (4): Residual  -> [2, 8, 4, 4]
                (block): Sequential  -> [2, 8, 4, 4]
                  (1): Conv2d(4 -> 8, 3x3, stride 2, padding 1)  -> [2, 8, 4, 4]
                  (2): GELU  -> [2, 8, 4, 4]
                (shortcut): Conv2d(4 -> 8, 1x1, stride 2, padding 0, no bias)  -> [2, 8, 4, 4]
              (5): MaxPool2d(2x2, stride 2)  -> [2, 8, 2, 2]
              (6): GlobalAvgPool  -> [2, 8]
              (7): Dropout(p=0.5)  -> [2, 8]
              (8): Linear(8 -> 3)  -> [2, 3]
            """
        #expect(model.treeDescription(inputShape: [2, 1, 8, 8]) == expected)
        #expect(try model.forward(Tensor(shape: [2, 1, 8, 8])).shape == [2, 3])
    }

    // MARK: training

    /// 8x8 images, dark with noise, where one quadrant is bright; the label is the quadrant.
    private func brightQuadrants(count: Int, seed: UInt64) throws -> Dataset {
        var rng = RandomGenerator(seed: seed)
        var inputs: [Float] = [], labels: [Int32] = []
        for i in 0..<count {
            let quadrant = i % 4
            let (top, left) = (quadrant / 2 * 4, quadrant % 2 * 4)
            for r in 0..<8 {
                for c in 0..<8 {
                    let inside = r >= top && r < top + 4 && c >= left && c < left + 4
                    inputs.append((inside ? 1 : 0) + 0.3 * rng.normal())
                }
            }
            labels.append(Int32(quadrant))
        }
        return try Dataset(inputs: inputs, labels: labels, sampleShape: [1, 8, 8], classCount: 4, name: "quadrants")
    }

    @Test func smallCNNLearnsWhichQuadrantIsBright() throws {
        let train = try brightQuadrants(count: 512, seed: 1), test = try brightQuadrants(count: 200, seed: 2)
        let makeModel: (inout RandomGenerator) throws -> Layer = { rng in
            try Sequential([
                try Conv2d(inChannels: 1, outChannels: 4, kernel: 3, padding: 1, rng: &rng),
                try BatchNorm(channels: 4, kind: .twoD),
                ReLU(),
                try MaxPool2d(kernel: 2),
                Flatten(),
                try Linear(inputs: 64, outputs: 4, rng: &rng),
            ])
        }
        let spec = RunSpec(
            makeModel: makeModel, optimizer: try SGD.Options(learningRate: 0.05, momentum: 0.9),
            train: train, test: test, batchSize: 32, budget: .epochs(2), schedule: LinearSchedule(), seed: 5)
        let result = try Trainer(spec: spec).run()
        #expect(result.status == .ok)
        #expect((result.testAccuracy ?? 0) >= 0.9, "chance is 0.25; got \(result.testAccuracy ?? 0)")
    }
}

/// The CNN of the speed target: conv3x3(1→16)-ReLU-maxpool-conv3x3(16→32)-ReLU-maxpool-
/// Linear(1568→128)-ReLU-Linear(128→10), for 28x28 single-channel images.
func benchmarkCNN(rng: inout RandomGenerator) throws -> Sequential {
    try Sequential([
        try Conv2d(inChannels: 1, outChannels: 16, kernel: 3, padding: 1, rng: &rng), ReLU(), try MaxPool2d(kernel: 2),
        try Conv2d(inChannels: 16, outChannels: 32, kernel: 3, padding: 1, rng: &rng), ReLU(), try MaxPool2d(kernel: 2),
        Flatten(), try Linear(inputs: 1568, outputs: 128, rng: &rng), ReLU(), try Linear(inputs: 128, outputs: 10, rng: &rng),
    ])
}
