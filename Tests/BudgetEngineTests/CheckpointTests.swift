import Foundation
import Testing
@testable import BudgetEngine
import TestSupport

/// Keeps every checkpoint in memory.
final class MemorySink: CheckpointSink {
    var states: [TrainingState] = []
    func save(_ state: TrainingState) throws { states.append(state) }
}

/// Records every step's loss and learning rate and every evaluation; stops the trainer after
/// `stopAfter` steps.
final class StepRecorder: TrainingObserver {
    var steps: [(step: Int, loss: Double, lr: Double)] = []
    var evaluations: [EvaluationRecord] = []
    var stopAfter: Int?
    weak var trainer: Trainer?

    func didStep(_ r: StepRecord) {
        steps.append((r.step, r.loss, r.learningRate))
        if let stopAfter, r.step + 1 == stopAfter { trainer?.stopRequested = true }
    }
    func didEvaluate(_ r: EvaluationRecord) { evaluations.append(r) }
}

/// A run stopped part-way and resumed from its checkpoint continues bit for bit: the same
/// losses at every step, the same evaluations, the same final weights, for models with
/// BatchNorm statistics and Dropout's random stream, under SGD with momentum and AdamW, the
/// schedule-free optimizers (z, x and the weight sum) and with weight averages (EMA, SWA, LAWA).
@Suite struct CheckpointTests {
    let train: Dataset
    let test: Dataset

    init() throws {
        train = try gaussianBlobs(count: 300, seed: 1)
        test = try gaussianBlobs(count: 100, seed: 2)
    }

    func spec(optimizer: OptimizerSpec, checkpoint: CheckpointPolicy = .none, averaging: WeightAveraging? = nil) -> RunSpec {
        var spec = RunSpec(
            makeModel: { rng in
                try Sequential([
                    try Linear(inputs: 2, outputs: 16, rng: &rng), try BatchNorm(channels: 16, kind: .oneD), ReLU(),
                    try Dropout(p: 0.3, rng: &rng), try Linear(inputs: 16, outputs: 4, rng: &rng),
                ])
            },
            optimizer: optimizer, train: train, test: test, batchSize: 32, budget: .iterations(60),
            schedule: LinearSchedule(), seed: 7, evaluateAt: [0.25, 0.5, 1.0], gradNormAt: [0.5, 1.0])
        spec.checkpoint = checkpoint
        spec.averaging = averaging
        return spec
    }

    /// The optimizer and average of a test case, and a name its checkpoints must hold.
    static func setup(_ kind: String) throws -> (OptimizerSpec, WeightAveraging?, String) {
        switch kind {
        case "sgd": return (try SGD.Options(learningRate: 0.1, momentum: 0.9, nesterov: true, weightDecay: 5e-4), nil, "optim.model.0.weight.momentum")
        case "adamw": return (try AdamW.Options(learningRate: 0.01), nil, "optim.model.0.weight.exp_avg")
        case "sgd_schedulefree": return (try SGDScheduleFree.Options(learningRate: 1, weightDecay: 5e-4, warmup: 5), nil, "optim.model.0.weight.z")
        case "adamw_schedulefree": return (try AdamWScheduleFree.Options(learningRate: 0.01, weightDecay: 0.01, warmup: 5), nil, "optim.model.4.bias.exp_avg_sq")
        case "sgd+ema": return (try SGD.Options(learningRate: 0.1, momentum: 0.9), .ema(decay: 0.9), "average.model.0.weight")
        case "sgd+swa": return (try SGD.Options(learningRate: 0.1, momentum: 0.9), .swa(start: 0.3), "average.model.4.weight")
        default: return (try AdamW.Options(learningRate: 0.01), .lawa(k: 3, every: 0.1), "average.snapshots.2.model.0.weight")
        }
    }

    func uninterrupted(_ spec: RunSpec) throws -> (RunResult, StepRecorder, [String: NamedArray]) {
        let recorder = StepRecorder()
        let trainer = Trainer(spec: spec, observer: recorder)
        let result = try trainer.run()
        return (result, recorder, try #require(trainer.trainedModel).stateArrays())
    }

    @Test(arguments: ["sgd", "adamw", "sgd_schedulefree", "adamw_schedulefree", "sgd+ema", "sgd+swa", "adamw+lawa"])
    func resumedRunEqualsUninterruptedRun(optimizer kind: String) throws {
        let (optimizer, averaging, savedName) = try Self.setup(kind)
        let (expected, expectedSteps, expectedWeights) = try uninterrupted(spec(optimizer: optimizer, averaging: averaging))

        // First part: stop after 23 steps (a stop request saves a checkpoint).
        let sink = MemorySink()
        let first = StepRecorder()
        first.stopAfter = 23
        let trainer = Trainer(spec: spec(optimizer: optimizer, checkpoint: CheckpointPolicy(fraction: 0.1), averaging: averaging), observer: first)
        first.trainer = trainer
        trainer.checkpointSink = sink
        let stopped = try trainer.run()
        #expect(stopped.status == .interrupted)
        #expect(stopped.steps == 23)
        // Periodic checkpoints at 10%, 20%, 30% (steps 6, 12, 18), then the stop's at 23.
        #expect(sink.states.map { $0.info["run.step"] } == ["6", "12", "18", "23"])
        #expect(sink.states.last?.arrays[savedName] != nil, "\(kind): no \(savedName)")

        // Second part: continue from the stop's checkpoint.
        let second = StepRecorder()
        let resumed = Trainer(spec: spec(optimizer: optimizer, averaging: averaging), observer: second)
        resumed.resumeState = sink.states.last
        let result = try resumed.run()

        #expect(result.status == .ok)
        #expect(result.resumedFromStep == 23)
        let steps = first.steps + second.steps
        #expect(steps.map(\.step) == expectedSteps.steps.map(\.step))
        #expect(steps.map(\.loss) == expectedSteps.steps.map(\.loss))
        #expect(steps.map(\.lr) == expectedSteps.steps.map(\.lr))
        #expect(result.steps == expected.steps)
        #expect(result.trainLoss == expected.trainLoss)
        #expect(result.testAccuracy == expected.testAccuracy)
        #expect(result.testLoss == expected.testLoss)
        #expect(result.gradNorm == expected.gradNorm)
        #expect(result.avgTestAccuracy == expected.avgTestAccuracy && result.avgTestLoss == expected.avgTestLoss)
        #expect((result.avgTestAccuracy != nil) == (averaging != nil))
        #expect(result.finalLearningRate == expected.finalLearningRate)
        let encoder = JSONEncoder.exact
        #expect(try encoder.encode(result.evaluations) == encoder.encode(expected.evaluations))
        #expect(try #require(resumed.trainedModel).stateArrays() == expectedWeights)
    }

    /// A run that shares its first steps with a longer one (a WSD schedule's stable phase)
    /// follows it as a branch of the trunk and continues from the trunk's checkpoint: every
    /// step, evaluation and weight is that of the run trained on its own.
    @Test(arguments: [0.2, 0.5])
    func branchFromATrunkEqualsTheIndependentRun(decay: Double) throws {
        let optimizer = try SGD.Options(learningRate: 0.1, momentum: 0.9, nesterov: true, weightDecay: 5e-4)
        func wsd(_ steps: Int) throws -> RunSpec {
            var s = spec(optimizer: optimizer)
            s.budget = .iterations(steps)
            s.fullBudget = .iterations(60)
            s.schedule = try WarmupStableDecaySchedule(decay: decay)
            return s
        }
        let (expected, expectedSteps, expectedWeights) = try uninterrupted(wsd(30))
        // Stable until p > 1 − decay: the 30-step run's rate starts to fall after step ⌊30·(1 − decay)⌋.
        let shared = Int((30 * (1 - decay)).rounded(.down)) + 1

        let sink = MemorySink()
        let early = StepRecorder()
        let trunk = Trainer(spec: try wsd(60))
        trunk.branches = [Trainer.Branch(spec: try wsd(30), steps: shared, observer: early, sink: sink)]
        let trunkResult = try trunk.run()
        #expect(trunkResult.steps == 60)
        #expect(sink.states.count == 1)
        #expect(early.steps.count == shared)

        let late = StepRecorder()
        let branch = Trainer(spec: try wsd(30), observer: late)
        branch.resumeState = sink.states.first
        let result = try branch.run()
        #expect(result.trunkSteps == shared)
        let steps = early.steps + late.steps
        #expect(steps.map(\.step) == expectedSteps.steps.map(\.step))
        #expect(steps.map(\.loss) == expectedSteps.steps.map(\.loss))
        #expect(steps.map(\.lr) == expectedSteps.steps.map(\.lr))
        let encoder = JSONEncoder.exact
        #expect(try encoder.encode(early.evaluations + late.evaluations) == encoder.encode(expectedSteps.evaluations))
        #expect(try encoder.encode(result.evaluations) == encoder.encode(expected.evaluations))
        #expect(result.trainLoss == expected.trainLoss)
        #expect(result.testAccuracy == expected.testAccuracy)
        #expect(result.gradNorm == expected.gradNorm)
        #expect(try #require(branch.trainedModel).stateArrays() == expectedWeights)
    }

    @Test func stateNamesFollowPyTorch() throws {
        var rng = RandomGenerator(seed: 1)
        let block = try Sequential([try Conv2d(inChannels: 1, outChannels: 2, kernel: 3, padding: 1, rng: &rng), try BatchNorm(channels: 2, kind: .twoD)])
        let model = try Sequential([try Residual(block: block), Flatten(), try Dropout(p: 0.5, rng: &rng)])
        let names = try model.stateArrays().keys.sorted()
        #expect(names == [
            "model.0.block.0.bias", "model.0.block.0.weight", "model.0.block.1.bias", "model.0.block.1.running_mean",
            "model.0.block.1.running_var", "model.0.block.1.weight", "model.2.generator",
        ])
        #expect(try model.namedParameters().map { $0.name } == ["model.0.block.0.weight", "model.0.block.0.bias", "model.0.block.1.weight", "model.0.block.1.bias"])
    }

    @Test func loadingStateThatDoesNotFitSaysWhatAndChangesNothing() throws {
        var rng = RandomGenerator(seed: 1)
        let model = try Sequential([try Linear(inputs: 2, outputs: 3, rng: &rng)])
        let before = try model.stateArrays()
        var state = before
        state["model.0.weight"] = NamedArray(shape: [3, 3], values: .float32(Array(repeating: 1, count: 9)))
        state["model.0.bias"] = NamedArray(shape: [3], values: .float32([9, 9, 9]))
        state["model.7.weight"] = NamedArray(shape: [1], values: .float32([0]))
        #expect {
            try model.loadStateArrays(state)
        } throws: { error in
            let text = "\(error)"
            return text.contains("'model.0.weight' has shape [3, 3], the model's is [3, 2]") && text.contains("unexpected 'model.7.weight'")
        }
        #expect(try model.stateArrays() == before)
        state = before
        state.removeValue(forKey: "model.0.bias")
        #expect(throws: EngineError.invalidArgument("the saved state does not fit this model: missing 'model.0.bias'")) {
            try model.loadStateArrays(state)
        }
    }

    @Test func checkpointFromAnotherRunIsRefused() throws {
        let sgd = try SGD.Options(learningRate: 0.1)
        let sink = MemorySink()
        let trainer = Trainer(spec: spec(optimizer: sgd, checkpoint: CheckpointPolicy(fraction: 0.5)))
        trainer.checkpointSink = sink
        _ = try trainer.run()
        var other = spec(optimizer: sgd)
        other.seed = 8
        let resumed = Trainer(spec: other)
        resumed.resumeState = try #require(sink.states.first)
        #expect {
            _ = try resumed.run()
        } throws: { "\($0)".contains("belongs to another run") }
    }

    @Test func checkpointClockCountsProgressAndSeconds() {
        var clock = CheckpointClock(policy: CheckpointPolicy(fraction: 0.25), reached: 0.3, elapsed: 0)
        let byProgress = [(0.4, 1.0), (0.5, 2), (0.6, 3), (0.8, 4)].map { clock.due(at: $0.0, elapsed: $0.1) }
        #expect(byProgress == [false, true, false, true])
        var timed = CheckpointClock(policy: CheckpointPolicy(seconds: 10), reached: 0, elapsed: 5)
        let bySeconds = [(0.1, 14.0), (0.2, 15), (0.3, 20)].map { timed.due(at: $0.0, elapsed: $0.1) }
        #expect(bySeconds == [false, true, false])
    }
}
