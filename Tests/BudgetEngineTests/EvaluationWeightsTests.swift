import Foundation
import Testing
@testable import BudgetEngine
import TestSupport

/// BatchNorm statistics recomputed for other weights, and the trainer evaluating them: the
/// schedule-free optimizers' x, and weight averages beside the model.
@Suite struct EvaluationWeightsTests {
    let train: Dataset
    let test: Dataset

    init() throws {
        train = try gaussianBlobs(count: 300, seed: 1)
        test = try gaussianBlobs(count: 100, seed: 2)
    }

    /// Linear(2 → 3), BatchNorm1d(3), Dropout: BatchNorm to recompute, a random stream not to move.
    func smallModel() throws -> (Sequential, Linear, BatchNorm, Dropout) {
        var rng = RandomGenerator(seed: 5)
        let linear = try Linear(inputs: 2, outputs: 3, rng: &rng), batchNorm = try BatchNorm(channels: 3, kind: .oneD)
        let dropout = try Dropout(p: 0.5, rng: &rng)
        return (try Sequential([linear, batchNorm, dropout]), linear, batchNorm, dropout)
    }

    /// update_bn by hand: the mean over the batches of each batch's mean and unbiased variance
    /// of the BatchNorm's input (the Linear layer's output), in Double.
    @Test func recalibrationAveragesTheBatchStatistics() throws {
        let (model, linear, batchNorm, dropout) = try smallModel()
        let generator = dropout.randomState
        batchNorm.runningMean.fill(7)
        let recalibration = try #require(try BatchNormRecalibration(model: model, train: train, batchSize: 64, seed: 3))
        try recalibration.recompute(model)

        let batches = try BatchIterator(dataset: train, batchSize: 64, shuffle: true, seed: 3, augment: true)
        batches.start(epoch: 0)
        var means = [Double](repeating: 0, count: 3), variances = means, count = 0.0
        let w = linear.weight.value, b = try #require(linear.bias).value
        while case let n = batches.next(), n > 0 {
            count += 1
            for ch in 0..<3 {
                let values = (0..<n).map { i in
                    Double(w[ch * 2]) * Double(batches.inputs[i * 2]) + Double(w[ch * 2 + 1]) * Double(batches.inputs[i * 2 + 1]) + Double(b[ch])
                }
                let mean = values.reduce(0, +) / Double(n)
                means[ch] += mean
                variances[ch] += values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n - 1)
            }
        }
        #expect(count == 5)  // 300 examples in batches of 64
        expectClose(batchNorm.runningMean.values, means.map { $0 / count }, tolerance: 1e-5, "running mean")
        expectClose(batchNorm.runningVariance.values, variances.map { $0 / count }, tolerance: 1e-5, "running variance")
        #expect(dropout.randomState.words == generator.words, "the recomputation drew no dropout mask")
        #expect(batchNorm.statisticsFactor == nil && model.isTraining)
    }

    @Test func aModelWithoutBatchNormNeedsNoRecalibration() throws {
        var rng = RandomGenerator(seed: 1)
        #expect(try BatchNormRecalibration(model: try mlp([2, 4, 4])(&rng), train: train, batchSize: 32, seed: 1) == nil)
    }

    /// Swapping weights in for an evaluation puts the parameters and statistics back bit for bit.
    @Test func aSwapRestoresEverything() throws {
        let (model, _, _, _) = try smallModel()
        let before = try model.stateArrays()
        let swap = try WeightSwap(model: model, parameters: model.parameters, train: train, batchSize: 32, seed: 1)
        let other = model.parameters.map { p in
            let t = Tensor(shape: p.value.shape)
            t.fill(0.5)
            return t
        }
        var seen: [Float] = []
        try swap.evaluating(other) { seen = model.parameters[0].value.values }
        #expect(seen.allSatisfy { $0 == 0.5 })
        #expect(try model.stateArrays() == before)
    }

    func spec(_ optimizer: OptimizerSpec, averaging: WeightAveraging? = nil, evaluateAt: [Double] = [1]) -> RunSpec {
        var spec = RunSpec(
            makeModel: { rng in
                try Sequential([
                    try Linear(inputs: 2, outputs: 16, rng: &rng), try BatchNorm(channels: 16, kind: .oneD), ReLU(),
                    try Linear(inputs: 16, outputs: 4, rng: &rng),
                ])
            },
            optimizer: optimizer, train: train, test: test, batchSize: 32, budget: .iterations(40),
            schedule: ConstantSchedule(), seed: 7, evaluateAt: evaluateAt)
        spec.averaging = averaging
        return spec
    }

    /// A schedule-free run evaluates x and ends holding it (BatchNorm statistics recomputed
    /// there): evaluating the trained model again gives the run's own numbers, bit for bit.
    @Test(arguments: ["sgd", "adamw"])
    func scheduleFreeRunsEvaluateAndKeepX(kind: String) throws {
        let optimizer: OptimizerSpec = kind == "sgd"
            ? try SGDScheduleFree.Options(learningRate: 1, weightDecay: 1e-4, warmup: 5)
            : try AdamWScheduleFree.Options(learningRate: 0.01, warmup: 5)
        let trainer = Trainer(spec: spec(optimizer))
        let result = try trainer.run()
        let model = try #require(trainer.trainedModel)
        let (loss, accuracy) = try Evaluator(dataset: test, batchSize: 256).evaluate(model, loss: CrossEntropy())
        #expect(result.testLoss == loss && result.testAccuracy == accuracy)
        #expect((result.testAccuracy ?? 0) > 0.8, "\(kind): \(result.testAccuracy ?? -1)")
    }

    /// Evaluating other weights never changes the training: more evaluations, the same steps.
    @Test func evaluationsDoNotDisturbTraining() throws {
        let specs = [
            (try SGDScheduleFree.Options(learningRate: 1, warmup: 5), nil),
            (try SGD.Options(learningRate: 0.1, momentum: 0.9), WeightAveraging.ema(decay: 0.9)),
        ] as [(OptimizerSpec, WeightAveraging?)]
        for (optimizer, averaging) in specs {
            let rare = StepRecorder(), often = StepRecorder()
            let a = try Trainer(spec: spec(optimizer, averaging: averaging), observer: rare).run()
            let b = try Trainer(spec: spec(optimizer, averaging: averaging, evaluateAt: [0.1, 0.3, 0.5, 1]), observer: often).run()
            #expect(rare.steps.map(\.loss) == often.steps.map(\.loss), "\(optimizer)")
            #expect(a.testAccuracy == b.testAccuracy && a.testLoss == b.testLoss && a.avgTestLoss == b.avgTestLoss)
            #expect(often.evaluations.count == 4)
        }
    }

    @Test func anAverageIsEvaluatedBesideTheModel() throws {
        let result = try Trainer(spec: spec(try SGD.Options(learningRate: 0.1, momentum: 0.9), averaging: .swa(start: 0.5), evaluateAt: [0.25, 1])).run()
        // Not yet started at 25%; measured at the end, beside the model's own numbers.
        #expect(result.evaluations.map { $0.avgTestAccuracy == nil } == [true, false])
        #expect(result.avgTestAccuracy != nil && result.avgTestLoss != nil && result.avgTestLoss != result.testLoss)
    }

    @Test func averagingAScheduleFreeOptimizerIsRefused() throws {
        #expect {
            _ = try Trainer(spec: spec(try SGDScheduleFree.Options(learningRate: 1), averaging: .ema(decay: 0.99))).run()
        } throws: { "\($0)".contains("already evaluates an average of its iterates") }
    }
}
