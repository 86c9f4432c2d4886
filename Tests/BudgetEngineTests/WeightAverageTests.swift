import Foundation
import Testing
@testable import BudgetEngine
import TestSupport

/// EMA, SWA and LAWA against their definitions, computed here by hand in Double from the
/// weights a run passes through (PyTorch's `AveragedModel` with `get_ema_multi_avg_fn`, its
/// default SWA average, and Kaddour's latest-weight average).
@Suite struct WeightAverageReferenceTests {
    /// The weights after steps 1 ... 8 (one parameter of three values), and the progress each
    /// step ends at (a budget of 8 steps).
    static let trajectory: [[Double]] = (1...8).map { t in
        let s = Double(t)
        return [sin(s), 0.1 * s * s - 1, 1 / s]
    }
    static let reached: [Double] = (1...8).map { Double($0) / 8 }

    /// The mean of the weights after the given steps (1-based).
    static func mean(of steps: [Int]) -> [Double] {
        (0..<3).map { (i: Int) -> Double in
            var sum = 0.0
            for step in steps { sum += trajectory[step - 1][i] }
            return sum / Double(steps.count)
        }
    }

    /// Feeds the trajectory to `method`; returns the average's weights after every step (nil
    /// while it has none).
    func run(_ method: WeightAveraging) -> [[Float]?] {
        let p = parameter([0, 0, 0])
        let average = WeightAverage(method, parameters: [p])
        return zip(Self.trajectory, Self.reached).map { weights, reached in
            for (i, w) in weights.enumerated() { p.value[i] = Float(w) }
            average.update(reached: reached)
            return average.evaluationWeights?.first?.values
        }
    }

    @Test func emaCopiesTheFirstStepThenDecaysEveryStep() throws {
        let decay = 0.75
        var avg = Self.trajectory[0]
        let found = run(.ema(decay: decay))
        for (t, weights) in Self.trajectory.enumerated() {
            if t > 0 { for i in avg.indices { avg[i] = decay * avg[i] + (1 - decay) * weights[i] } }
            expectClose(try #require(found[t]), avg, tolerance: 1e-6, "ema after step \(t + 1)")
        }
    }

    /// A decay below 0.5 takes PyTorch's other form of lerp; the value is the same average.
    @Test func emaWithASmallDecay() throws {
        var avg = Self.trajectory[0]
        let found = run(.ema(decay: 0.25))
        for (t, weights) in Self.trajectory.enumerated().dropFirst() {
            for i in avg.indices { avg[i] = 0.25 * avg[i] + 0.75 * weights[i] }
            expectClose(try #require(found[t]), avg, tolerance: 1e-6, "ema after step \(t + 1)")
        }
    }

    @Test func swaAveragesUniformlyPastItsStart() throws {
        let found = run(.swa(start: 0.5))
        // Steps 1-4 end at progress 1/8 ... 1/2: not past the start, nothing averaged yet.
        #expect(found.prefix(4).allSatisfy { $0 == nil })
        for t in 4..<8 {
            expectClose(try #require(found[t]), Self.mean(of: Array(5...(t + 1))), tolerance: 1e-6, "swa after step \(t + 1)")
        }
    }

    @Test func lawaAveragesTheLastKSnapshots() throws {
        // Snapshots at progress 0.25, 0.5, 0.75, 1 (steps 2, 4, 6, 8); the mean of the last two.
        let found = run(.lawa(k: 2, every: 0.25))
        #expect(found[0] == nil)
        let expected: [Int: [Int]] = [2: [2], 3: [2], 4: [2, 4], 5: [2, 4], 6: [4, 6], 7: [4, 6], 8: [6, 8]]
        for (step, steps) in expected {
            expectClose(try #require(found[step - 1]), Self.mean(of: steps), tolerance: 1e-6, "lawa after step \(step)")
        }
    }

    /// Snapshots every 0.3 of a budget whose steps end at multiples of 1/8: each is taken at the
    /// first step boundary at or past 0.3, 0.6, 0.9.
    @Test func lawaSnapshotsAtTheFirstBoundaryPastEachPoint() throws {
        let found = run(.lawa(k: 10, every: 0.3))
        // 0.3 → step 3 (0.375), 0.6 → step 5 (0.625), 0.9 → step 8 (1.0).
        expectClose(try #require(found[7]), Self.mean(of: [3, 5, 8]), tolerance: 1e-6, "lawa at the end")
        #expect(found[1] == nil && found[2] != nil)
    }

    /// Saved and restored part-way, an average continues exactly as one that never stopped.
    @Test(arguments: [WeightAveraging.ema(decay: 0.9), .swa(start: 0.25), .lawa(k: 3, every: 0.125)])
    func checkpointRoundTrip(_ method: WeightAveraging) throws {
        let p = parameter([0, 0, 0])
        let whole = WeightAverage(method, parameters: [p])
        var first = WeightAverage(method, parameters: [p])
        for (t, (weights, reached)) in zip(Self.trajectory, Self.reached).enumerated() {
            for (i, w) in weights.enumerated() { p.value[i] = Float(w) }
            whole.update(reached: reached)
            first.update(reached: reached)
            if t == 4 {
                let saved = first.capture(names: ["model.0.weight"])
                let state = TrainingState(arrays: saved.arrays, info: saved.info)
                first = WeightAverage(method, parameters: [p])
                try first.restore(state, names: ["model.0.weight"])
            }
        }
        #expect(first.evaluationWeights?.first?.values == whole.evaluationWeights?.first?.values)
        #expect(first.count == whole.count)
    }

    @Test func checkpointOfAnotherMethodIsRefused() throws {
        let p = parameter([1])
        let ema = WeightAverage(.ema(decay: 0.9), parameters: [p])
        ema.update(reached: 0.5)
        let saved = ema.capture(names: ["model.0.weight"])
        #expect(Set(saved.arrays.keys) == ["average.model.0.weight"])
        let swa = WeightAverage(.swa(start: 0.5), parameters: [p])
        #expect { try swa.restore(TrainingState(arrays: saved.arrays, info: saved.info), names: ["model.0.weight"]) } throws: {
            "\($0)".contains("the weight average was ema(decay=0.9)")
        }
    }

    @Test func settingsAreChecked() {
        for bad in [WeightAveraging.ema(decay: 1), .ema(decay: -0.1), .swa(start: 1), .lawa(k: 0, every: 0.1), .lawa(k: 2, every: 0)] {
            #expect(throws: EngineError.self) { try bad.validate() }
        }
        #expect(WeightAveraging.lawa(k: 5, every: 0.02).description == "lawa(k=5, every=0.02)")
    }
}
