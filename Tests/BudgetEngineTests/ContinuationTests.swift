import Foundation
import Testing
@testable import BudgetEngine
import TestSupport

/// Re-planned continuations (a search's `continue = true`): a run continues another run's
/// final state under a larger budget; and the per-step gradient-norm probe.
@Suite struct ContinuationTests {
    let train: Dataset
    let test: Dataset

    init() throws {
        train = try gaussianBlobs(count: 300, seed: 1)
        test = try gaussianBlobs(count: 100, seed: 2)
    }

    func spec(budget: Int, full: Int = 60, schedule: Schedule, seed: UInt64 = 7) throws -> RunSpec {
        RunSpec(
            makeModel: { rng in
                try Sequential([
                    try Linear(inputs: 2, outputs: 16, rng: &rng), try BatchNorm(channels: 16, kind: .oneD), ReLU(),
                    try Dropout(p: 0.3, rng: &rng), try Linear(inputs: 16, outputs: 4, rng: &rng),
                ])
            },
            optimizer: try SGD.Options(learningRate: 0.1, momentum: 0.9, weightDecay: 5e-4), train: train, test: test,
            batchSize: 32, budget: .iterations(budget), fullBudget: .iterations(full), schedule: schedule, seed: seed,
            gradNormAt: [1.0])
    }

    /// The final state of a run of `budget` steps.
    func finalState(_ spec: RunSpec) throws -> TrainingState {
        let sink = MemorySink()
        let trainer = Trainer(spec: spec)
        trainer.finalStateSink = sink
        #expect(try trainer.run().status == .ok)
        return try #require(sink.states.last)
    }

    /// A truncated schedule is planned for the full budget whatever the run's budget, so
    /// continuing a 20-step run to 60 steps is the 60-step run itself, bit for bit: what a
    /// search promoting its survivors (as Optuna and Ray do) gets.
    @Test func truncatedContinuationEqualsTheLongRun() throws {
        let truncated = try TruncatedSchedule(LinearSchedule())
        let short = try finalState(try spec(budget: 20, schedule: truncated))
        #expect(short.info["run.step"] == "20")
        var continued = try spec(budget: 60, schedule: truncated)
        continued.continuing = short
        let trainer = Trainer(spec: continued)
        let result = try trainer.run()
        let direct = Trainer(spec: try spec(budget: 60, schedule: truncated))
        let expected = try direct.run()
        #expect(result.continuedFromStep == 20)
        #expect(result.steps == 60)
        #expect(result.testAccuracy == expected.testAccuracy)
        #expect(result.testLoss == expected.testLoss)
        #expect(try #require(trainer.trainedModel).stateArrays() == #require(direct.trainedModel).stateArrays())
        // 2·16 + 16·4 = 96 MACs, 576 training FLOPs an example; 10 batches (the last of 12) an
        // epoch of 300. The continuation counts its own 40 steps only: 1800 − 600 examples.
        #expect(expected.flops == Double(576 * 1800))
        #expect(result.flops == Double(576 * 1200))
    }

    /// A budget-aware schedule is re-planned: step 20 of a 60-step continuation trains at
    /// m(20/60), and only the continuation's steps are observed.
    @Test func budgetAwareContinuationReplansTheSchedule() throws {
        let short = try finalState(try spec(budget: 20, schedule: LinearSchedule()))
        var continued = try spec(budget: 60, schedule: LinearSchedule())
        continued.continuing = short
        let recorder = StepRecorder()
        let result = try Trainer(spec: continued, observer: recorder).run()
        #expect(recorder.steps.first?.step == 20)
        #expect(recorder.steps.count == 40)
        #expect(abs((recorder.steps.first?.lr ?? 0) - 0.1 * 40 / 60) < 1e-12)
        // Evaluations are the continuation's own (the end only).
        #expect(result.evaluations.map(\.step) == [60])
        #expect(result.evaluations.first?.gradNorm != nil)
    }

    /// A continuation stopped part-way resumes from its own checkpoint and still knows where
    /// it continued from.
    @Test func interruptedContinuationResumes() throws {
        let short = try finalState(try spec(budget: 20, schedule: LinearSchedule()))
        var continued = try spec(budget: 60, schedule: LinearSchedule())
        continued.continuing = short
        let uninterrupted = Trainer(spec: continued)
        let expected = try uninterrupted.run()

        let sink = MemorySink()
        let recorder = StepRecorder()
        recorder.stopAfter = 35
        let first = Trainer(spec: continued, observer: recorder)
        recorder.trainer = first
        first.checkpointSink = sink
        #expect(try first.run().status == .interrupted)
        let second = Trainer(spec: continued)
        second.resumeState = sink.states.last
        let result = try second.run()
        #expect(result.continuedFromStep == 20)
        #expect(result.resumedFromStep == 35)
        #expect(result.testLoss == expected.testLoss)
        #expect(try #require(second.trainedModel).stateArrays() == #require(uninterrupted.trainedModel).stateArrays())
    }

    @Test func continuationOfAnotherRunIsRefused() throws {
        let short = try finalState(try spec(budget: 20, schedule: LinearSchedule()))
        var other = try spec(budget: 60, schedule: LinearSchedule(), seed: 8)
        other.continuing = short
        #expect { _ = try Trainer(spec: other).run() } throws: { "\($0)".contains("belongs to another run") }
        var shorter = try spec(budget: 10, schedule: LinearSchedule())
        shorter.continuing = short
        #expect { _ = try Trainer(spec: shorter).run() } throws: { "\($0)".contains("beyond this run's budget of 10 steps") }
    }

    /// The probe's norm is the minibatch loss gradient's: recomputed here for the first step
    /// by hand, and the probe changes nothing about training.
    @Test func stepGradientNormIsTheMinibatchGradientNorm() throws {
        var probed = try spec(budget: 12, schedule: LinearSchedule())
        probed.logsStepGradientNorm = true
        let recorder = GradientNormRecorder()
        let withProbe = try Trainer(spec: probed, observer: recorder).run()
        let without = try Trainer(spec: try spec(budget: 12, schedule: LinearSchedule())).run()
        #expect(withProbe.trainLoss == without.trainLoss)
        #expect(recorder.norms.count == 12 && recorder.norms.allSatisfy { $0 > 0 })

        let plain = try spec(budget: 12, schedule: LinearSchedule())
        var rng = RandomGenerator(seed: plain.seed, stream: RunSpec.initialisationStream)
        let model = try plain.makeModel(&rng)
        model.setTraining(true)
        let batches = try BatchIterator(dataset: train, batchSize: 32, shuffle: true, seed: plain.seed, augment: true)
        batches.start(epoch: 0)
        batches.next()
        let loss = CrossEntropy()
        _ = try loss.forward(try model.forward(batches.inputs), labels: batches.labels)
        _ = try model.backward(loss.backward())
        var sum = 0.0
        for p in model.parameters { for i in 0..<p.count { sum += Double(p.gradient[i]) * Double(p.gradient[i]) } }
        #expect(abs(recorder.norms[0] - sum.squareRoot()) < 1e-7 * sum.squareRoot())
    }
}

/// Keeps every step's gradient norm.
final class GradientNormRecorder: TrainingObserver {
    var norms: [Double] = []
    func didStep(_ r: StepRecord) { if let g = r.gradNorm { norms.append(g) } }
    func didEvaluate(_ r: EvaluationRecord) {}
}
