import Testing
@testable import BudgetEngine
import TestSupport

/// FLOPs counted from layer shapes (reference values worked out by hand) and budgets in
/// examples and FLOPs turned into steps.
@Suite struct FLOPCountTests {
    @Test func mlpMultiplyAddsAreTheProductsOfItsLayers() throws {
        var rng = RandomGenerator(seed: 1)
        let model = try Sequential([Flatten(), try Linear(inputs: 784, outputs: 256, rng: &rng), ReLU(), try Linear(inputs: 256, outputs: 10, rng: &rng)])
        // 784·256 + 256·10 = 203,264 multiply-adds; forward 2×, training 6×.
        #expect(try FLOPCount.forwardMultiplyAdds(model, sampleShape: [1, 28, 28]) == 203_264)
        #expect(try FLOPCount.forwardFLOPsPerExample(model, sampleShape: [1, 28, 28]) == 406_528)
        #expect(try FLOPCount.trainingFLOPsPerExample(model, sampleShape: [1, 28, 28]) == 1_219_584)
    }

    @Test func convolutionsCountEveryOutputPixel() throws {
        var rng = RandomGenerator(seed: 1)
        let cnn = try Sequential([
            try Conv2d(inChannels: 1, outChannels: 16, kernel: 3, padding: 1, rng: &rng), ReLU(), try MaxPool2d(kernel: 2),
            try Conv2d(inChannels: 16, outChannels: 32, kernel: 3, padding: 1, rng: &rng), ReLU(), try MaxPool2d(kernel: 2),
            Flatten(), try Linear(inputs: 1568, outputs: 128, rng: &rng), ReLU(), try Linear(inputs: 128, outputs: 10, rng: &rng),
        ])
        // 16·28·28·1·9 + 32·14·14·16·9 + 1568·128 + 128·10 = 112,896 + 903,168 + 200,704 + 1,280.
        #expect(try FLOPCount.forwardMultiplyAdds(cnn, sampleShape: [1, 28, 28]) == 1_218_048)
        // Stride 2, padding 1 on 8×8: a 4×4 output, 8·16·3·9.
        let strided = try Conv2d(inChannels: 3, outChannels: 8, kernel: 3, stride: 2, padding: 1, rng: &rng)
        #expect(try FLOPCount.forwardMultiplyAdds(strided, sampleShape: [3, 8, 8]) == 3456)
    }

    @Test func residualBranchesBothSeeTheInput() throws {
        var rng = RandomGenerator(seed: 1)
        let identity = try Residual(block: try Sequential([try Linear(inputs: 4, outputs: 4, rng: &rng), ReLU()]))
        #expect(try FLOPCount.forwardMultiplyAdds(identity, sampleShape: [4]) == 16)
        let projected = try Residual(block: try Linear(inputs: 4, outputs: 6, rng: &rng), shortcut: try Linear(inputs: 4, outputs: 6, rng: &rng))
        #expect(try FLOPCount.forwardMultiplyAdds(projected, sampleShape: [4]) == 48)
        #expect(throws: EngineError.self) { try FLOPCount.forwardMultiplyAdds(identity, sampleShape: [5]) }
    }

    @Test func budgetsInExamplesAndFLOPsBecomeSteps() throws {
        #expect(try Budget.examples(1000).resolved(batchSize: 128) { 0 } == .iterations(8))  // 7.8 rounds to 8
        #expect(try Budget.flops(1e4).resolved(batchSize: 10) { 100 } == .iterations(10))
        #expect(try Budget.flops(1).resolved(batchSize: 10) { 100 } == .iterations(1))  // at least one step
        #expect(try Budget.epochs(2).resolved(batchSize: 10) { throw EngineError.invalidArgument("not called") } == .epochs(2))
        #expect(throws: EngineError.self) { try Budget.flops(1e4).resolved(batchSize: 10) { 0 } }
        #expect(Budget.flops(4e12).scaled(by: 0.25) == .flops(1e12))
        #expect(Budget.examples(1000).steps(perEpoch: 10) == nil)
        #expect(throws: EngineError.self) { try Budget.examples(0).validate() }
    }

    /// A run under a FLOPs budget trains `budget / (batch · 6 · MACs)` steps, and its result
    /// counts the FLOPs of the examples it drew (the last batch of an epoch is short).
    @Test func runsTrainForTheirFLOPsAndCountThem() throws {
        let train = try gaussianBlobs(count: 100, seed: 1)
        // 2-8-4: 2·8 + 8·4 = 48 MACs, 288 training FLOPs an example; batch 30: 8640 a step.
        var spec = RunSpec(
            makeModel: mlp([2, 8, 4]), optimizer: try SGD.Options(learningRate: 0.1), train: train, test: nil,
            batchSize: 30, budget: .flops(8640 * 9), schedule: LinearSchedule(), seed: 1)
        let result = try Trainer(spec: spec).run()
        #expect(result.steps == 9)
        #expect(result.budgetSteps == 9)
        // 9 steps over epochs of 4 batches (30, 30, 30, 10): 2 epochs (200 examples) + 30.
        #expect(result.flops == Double(288 * 230))
        spec.budget = .examples(250)
        #expect(try Trainer(spec: spec).run().steps == 8)  // 250 / 30 = 8.3
        #expect(try spec.resolvingBudgets().budget == .iterations(8))
    }
}
