import Foundation
import Testing
@testable import BudgetEngine
import TestSupport

/// The learning-rate range test: its grid of rates, its smoothing, its early stop and its
/// suggestion rule on made-up loss curves, and a real sweep that is the same for the same seed.
@Suite struct LearningRateRangeTestTests {
    typealias RangeTest = LearningRateRangeTest

    @Test func ratesAreTheExponentialGrid() throws {
        let settings = RangeTest.Settings(minLR: 1e-4, maxLR: 1, steps: 5)
        let rates = RangeTest.rates(settings)
        #expect(rates.count == 5)
        #expect(rates.first == 1e-4 && rates.last == 1)
        // min · (max/min)^(i/4) = 1e-4, 1e-3, 1e-2, 1e-1, 1
        for (rate, expected) in zip(rates, [1e-4, 1e-3, 1e-2, 1e-1, 1]) { #expect(abs(rate / expected - 1) < 1e-12) }
        let long = RangeTest.rates(RangeTest.Settings(minLR: 1e-6, maxLR: 10, steps: 200))
        let ratio = pow(1e7, 1.0 / 199)
        for i in 1..<long.count { #expect(abs(long[i] / long[i - 1] / ratio - 1) < 1e-9) }
    }

    @Test func smoothingIsTheBiasCorrectedMovingAverage() throws {
        let losses = [2.0, 1.0, 4.0]
        let result = try RangeTest.sweep(RangeTest.Settings(minLR: 1e-3, maxLR: 1e-1, steps: 3)) { i, _ in losses[i] }
        // a0 = 0.02·2 = 0.04, s0 = 0.04 / 0.02 = 2
        // a1 = 0.98·0.04 + 0.02·1 = 0.0592, s1 = 0.0592 / (1 − 0.9604) = 1.494949...
        // a2 = 0.98·0.0592 + 0.02·4 = 0.138016, s2 = 0.138016 / (1 − 0.941192) = 2.346891...
        let expected = [2.0, 0.0592 / 0.0396, 0.138016 / 0.058808]
        #expect(result.points.map(\.loss) == losses)
        for (p, e) in zip(result.points, expected) { #expect(abs(p.smoothed - e) < 1e-12, "\(p.smoothed) vs \(e)") }
        #expect(result.ending == .completed)
        #expect(result.minimum?.step == 1)
    }

    /// A loss that falls to a minimum at lr = 1e-2 and then explodes: the suggestion is the
    /// rate of least smoothed loss ÷ 10, and the sweep stops once the smoothed loss passes 4×
    /// its minimum.
    @Test func suggestionAndEarlyStopOnASyntheticCurve() throws {
        let settings = RangeTest.Settings(minLR: 1e-5, maxLR: 10, steps: 301)
        func curve(_ lr: Double) -> Double {
            let x = log10(lr) + 2           // 0 at lr = 1e-2
            return x <= 0 ? 1 + x * x / 9 : 1 + 50 * x * x * x
        }
        let result = try RangeTest.sweep(settings) { _, lr in curve(lr) }
        #expect(result.ending == .lossExploded)
        let last = try #require(result.points.last)
        let minimum = try #require(result.minimum)
        #expect(last.smoothed > 4 * minimum.smoothed)
        #expect(result.points.dropLast().allSatisfy { $0.smoothed <= 4 * minimum.smoothed })
        #expect(last.learningRate < 10)
        // The smoothed curve lags the raw one a little: its minimum sits at or just after 1e-2.
        #expect(minimum.learningRate >= 1e-2 * 0.999 && minimum.learningRate < 2e-2)
        #expect(result.suggestion == minimum.learningRate / 10)
        #expect(RangeTest.suggestion(result.points) == minimum.learningRate / 10)
        // The rule on points given directly: the least smoothed loss is at 0.5, so 0.05.
        let points = [(1e-3, 3.0), (1e-2, 2.0), (0.5, 1.0), (1.0, 1.5)].enumerated().map {
            RangeTest.Point(step: $0.offset, learningRate: $0.element.0, loss: $0.element.1, smoothed: $0.element.1)
        }
        #expect(RangeTest.suggestion(points) == 0.05)
        #expect(RangeTest.suggestion([]) == nil)
    }

    @Test func notFiniteLossEndsTheSweepUnrecorded() throws {
        let result = try RangeTest.sweep(RangeTest.Settings(minLR: 1e-3, maxLR: 1, steps: 10)) { i, _ in i < 4 ? 1.0 : (i == 4 ? .nan : 1) }
        #expect(result.ending == .lossNotFinite)
        #expect(result.points.count == 4)
    }

    @Test func badSettingsAreRefused() {
        for settings in [RangeTest.Settings(minLR: 0), RangeTest.Settings(minLR: 1, maxLR: 1), RangeTest.Settings(steps: 1),
                         RangeTest.Settings(maxLR: .infinity), RangeTest.Settings(steps: RangeTest.Settings.maximumSteps + 1)] {
            #expect(throws: EngineError.self) { try RangeTest.sweep(settings) { _, _ in 1 } }
        }
    }

    @Test func sweepOnAModelIsTheSameForTheSameSeed() throws {
        let train = try gaussianBlobs(count: 256, seed: 1)
        func sweep(seed: UInt64) throws -> RangeTest.Result {
            let spec = RunSpec(
                makeModel: mlp([2, 16, 4]), optimizer: try SGD.Options(learningRate: 0.1, momentum: 0.9),
                train: train, test: nil, batchSize: 32, budget: .epochs(1), schedule: LinearSchedule(), seed: seed)
            return try RangeTest.run(spec, settings: RangeTest.Settings(minLR: 1e-4, maxLR: 1e3, steps: 60))
        }
        let a = try sweep(seed: 3), b = try sweep(seed: 3), c = try sweep(seed: 4)
        #expect(!a.points.isEmpty)
        #expect(a.points == b.points)
        #expect(a.points.map(\.loss) != c.points.map(\.loss))
        #expect(a.points.map(\.learningRate) == Array(RangeTest.rates(RangeTest.Settings(minLR: 1e-4, maxLR: 1e3, steps: 60)).prefix(a.points.count)))
        // The first step trains at a rate too small to change anything: its loss is the
        // untrained model's, about ln 4 for 4 classes.
        #expect(abs(a.points[0].loss - log(4.0)) < 0.5)
    }
}
