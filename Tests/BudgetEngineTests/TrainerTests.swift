import Testing
@testable import BudgetEngine
import TestSupport

@Suite struct TrainerTests {
    @Test func mlpLearnsBlobs() throws {
        let train = try gaussianBlobs(count: 2000, seed: 1)
        let test = try gaussianBlobs(count: 500, seed: 2)
        let spec = RunSpec(
            makeModel: mlp([2, 32, 4]), optimizer: try SGD.Options(learningRate: 0.1, momentum: 0.9),
            train: train, test: test, batchSize: 32, budget: .epochs(3), schedule: LinearSchedule(), seed: 7)
        let result = try Trainer(spec: spec).run()
        #expect(result.status == .ok)
        #expect(result.steps == 3 * 63)
        #expect((result.testAccuracy ?? 0) >= 0.95)
        // Linear decay: the last step trains at multiplier (budget-1)/budget... of 1 - p.
        #expect(abs(result.finalLearningRate - 0.1 * (1.0 / Double(result.steps))) < 1e-12)
    }

    @Test func sameSeedSameResult() throws {
        let train = try gaussianBlobs(count: 500, seed: 1)
        func run() throws -> RunResult {
            try Trainer(spec: RunSpec(
                makeModel: mlp([2, 16, 4]), optimizer: try SGD.Options(learningRate: 0.05, momentum: 0.9),
                train: train, test: train, batchSize: 50, budget: .iterations(40), schedule: LinearSchedule(), seed: 3)).run()
        }
        let a = try run(), b = try run()
        #expect(a.trainLoss == b.trainLoss)
        #expect(a.testLoss == b.testLoss)
    }

    /// The data needs no gradient, so neither do the layers before the first parameters:
    /// the trainer turns off input gradients up to and including the first layer with
    /// parameters, and no further. Training is unchanged by it.
    @Test func inputGradientsSkippedUpToTheFirstParameters() throws {
        let train = try gaussianBlobs(count: 256, seed: 1)
        var built: [Layer] = []
        let makeModel: (inout RandomGenerator) throws -> Layer = { rng in
            let layers: [Layer] = [
                Flatten(), try Linear(inputs: 2, outputs: 8, rng: &rng), ReLU(), try Linear(inputs: 8, outputs: 4, rng: &rng),
            ]
            built = layers
            return try Sequential([try Sequential([layers[0]]), try Sequential(Array(layers[1...]))])
        }
        let spec = RunSpec(
            makeModel: makeModel, optimizer: try SGD.Options(learningRate: 0.05, momentum: 0.9),
            train: train, test: nil, batchSize: 32, budget: .iterations(20), schedule: LinearSchedule(), seed: 3)
        let skipped = try Trainer(spec: spec).run()
        let flags = built.map { ($0 as? InputGradientOptional)?.needsInputGradient }
        #expect(flags[1] == false && flags[3] == true, "got \(flags)")

        let plain = try Trainer(spec: RunSpec(
            makeModel: mlp([2, 8, 4]), optimizer: try SGD.Options(learningRate: 0.05, momentum: 0.9),
            train: train, test: nil, batchSize: 32, budget: .iterations(20), schedule: LinearSchedule(), seed: 3)).run()
        #expect(skipped.trainLoss == plain.trainLoss)
    }
}
