import Testing
@testable import BudgetEngine

/// The refined schedule of Defazio et al. (2023), Algorithm 1, on sequences small enough to
/// work out by hand.
@Suite struct RefinedScheduleTests {
    func points(_ norms: [Double]) -> [(progress: Double, norm: Double)] {
        norms.enumerated().map { (Double($0.offset) / Double(norms.count), $0.element) }
    }

    /// norms (1, 2, 1, 1), no smoothing: w = (1, 1/4, 1, 1), η_t = w_t Σ_{p>t} w_p =
    /// (2.25, 0.5, 1, 0) → divided by 2.25: (1, 2/9, 4/9, 0).
    @Test func referenceValues() throws {
        let s = try RefinedSchedule(points: points([1, 2, 1, 1]), smoothing: 0, source: "test")
        let expected = [1, 2.0 / 9, 4.0 / 9, 0]
        for (v, e) in zip(s.values, expected) { #expect(abs(v - e) < 1e-12, "\(s.values)") }
        let context = ScheduleContext(step: 0, budget: 4, fullBudget: 4, epoch: 0, stepsPerEpoch: 4, baseLearningRate: 1)
        // Halfway between the first two points, and past the last one.
        #expect(abs(s.multiplier(at: 0.125, context: context) - (1 + 2.0 / 9) / 2) < 1e-12)
        #expect(s.multiplier(at: 0.9, context: context) == 0)
        #expect(s.summary == "refined(from=test, smooth=0)")
    }

    /// Constant norms refine to linear decay: η_t ∝ T − 1 − t.
    @Test func constantNormsGiveLinearDecay() throws {
        let s = try RefinedSchedule(points: points(Array(repeating: 3, count: 11)), smoothing: 0.3, source: "flat")
        for (t, v) in s.values.enumerated() { #expect(abs(v - Double(10 - t) / 10) < 1e-12) }
        // The points lie at t/11, so m(p) = 1 − 1.1·p; at another budget the same shape: a
        // 22-step run at step 11 is at progress 0.5, m = 0.45.
        let values = try s.values(steps: 22)
        #expect(abs(values[11] - 0.45) < 1e-12)
    }

    /// Width 3 over (1, 9, 2, 8, 3): the start padded with 1, the end reflected (…, 8, 3, 8).
    @Test func medianFilterPadsAsTheReferenceCode() {
        #expect(RefinedSchedule.medianFilter([1, 9, 2, 8, 3], width: 3) == [1, 2, 8, 3, 8])
        #expect(RefinedSchedule.medianFilter([1, 9, 2, 8, 3], width: 1) == [1, 9, 2, 8, 3])
        // Width 5: windows (1,1,1,9,2), (1,1,9,2,8), (1,9,2,8,3), (9,2,8,3,8), (2,8,3,8,2).
        #expect(RefinedSchedule.medianFilter([1, 9, 2, 8, 3], width: 5) == [1, 2, 3, 8, 3])
    }

    /// A spike in the norms is smoothed away: smoothing 0.4 of 5 points is a width of 3.
    @Test func smoothingWidthIsAFractionOfTheRun() throws {
        let spiky = try RefinedSchedule(points: points([1, 1, 50, 1, 1]), smoothing: 0.4, source: "s")
        let flat = try RefinedSchedule(points: points([1, 1, 1, 1, 1]), smoothing: 0, source: "f")
        #expect(spiky.values == flat.values)
    }

    /// Norms logged every k-th step weigh each point by its share of the run.
    @Test func unevenPointsWeighByTheirShare() throws {
        // Points at 0, 0.5 and 0.75 hold shares 0.5, 0.25 and 0.25 of the run; with norms 1
        // the tail sums are the progress remaining after each point, as linear decay has it.
        let s = try RefinedSchedule(points: [(0, 1), (0.5, 1), (0.75, 1)], smoothing: 0, source: "u")
        // tails: after 0.75: 0; after 0.5: 0.25; after 0: 0.5 → (0.5, 0.25, 0) / 0.5.
        #expect(s.values == [1, 0.5, 0])
    }

    @Test func badInputIsRefused() {
        #expect(throws: EngineError.self) { try RefinedSchedule(points: [(0, 1)], smoothing: 0, source: "one") }
        #expect(throws: EngineError.self) { try RefinedSchedule(points: [(0, 1), (0.5, 0)], smoothing: 0, source: "zero") }
        #expect(throws: EngineError.self) { try RefinedSchedule(points: [(0.5, 1), (0.5, 1)], smoothing: 0, source: "order") }
        #expect(throws: EngineError.self) { try RefinedSchedule(points: [(0, 1), (0.5, 1)], smoothing: 2, source: "tau") }
    }
}
