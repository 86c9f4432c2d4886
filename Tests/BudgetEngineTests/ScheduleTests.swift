import Foundation
import Testing
@testable import BudgetEngine

// Reference values here are computed independently of the code under test: either the closed
// form written out again with Foundation math, or literal numbers worked out by hand / with a
// calculator from the published formula (each stated next to it).

/// Progress points every built-in is checked at; in a 100-step budget they are steps 0, 25, 50,
/// 75, 90 and 99 (the last step).
private let probes: [Double] = [0, 0.25, 0.5, 0.75, 0.9, 0.99]

/// `schedule` over a 100-step budget against `reference(p)` at every probe.
private func expectFormula(
    _ schedule: Schedule, tolerance: Double = 1e-12, sourceLocation: SourceLocation = #_sourceLocation,
    _ reference: (Double) -> Double
) throws {
    let values = try schedule.values(steps: 100)
    for p in probes {
        let expected = reference(p)
        let got = values[Int((p * 100).rounded())]
        #expect(abs(got - expected) <= tolerance, "\(schedule.summary) at p=\(p): got \(got), expected \(expected)", sourceLocation: sourceLocation)
    }
}

/// `schedule` over a 100-step budget against literal values at the probes.
private func expectProbes(
    _ schedule: Schedule, _ expected: [Double], tolerance: Double = 1e-12,
    sourceLocation: SourceLocation = #_sourceLocation
) throws {
    let values = try schedule.values(steps: 100)
    for (p, e) in zip(probes, expected) {
        let got = values[Int((p * 100).rounded())]
        #expect(abs(got - e) <= tolerance, "\(schedule.summary) at p=\(p): got \(got), expected \(e)", sourceLocation: sourceLocation)
    }
}

private func expectClose(
    _ got: [Double], _ expected: [Double], tolerance: Double = 1e-12, sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(got.count == expected.count, "got \(got.count) values, expected \(expected.count)", sourceLocation: sourceLocation)
    for (i, (g, e)) in zip(got, expected).enumerated() {
        #expect(abs(g - e) <= tolerance, "step \(i): got \(g), expected \(e)", sourceLocation: sourceLocation)
    }
}

/// The largest change between consecutive values.
private func largestJump(_ values: [Double]) -> Double {
    zip(values, values.dropFirst()).map { abs($1 - $0) }.max() ?? 0
}

/// Runs `body`, which must throw `EngineError.invalidArgument` whose message contains every
/// fragment.
private func expectInvalid(
    _ fragments: [String], sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Any
) {
    do {
        _ = try body()
        Issue.record("expected an invalid-argument error mentioning \(fragments)", sourceLocation: sourceLocation)
    } catch let EngineError.invalidArgument(message) {
        for fragment in fragments {
            #expect(message.contains(fragment), "'\(message)' does not mention '\(fragment)'", sourceLocation: sourceLocation)
        }
    } catch {
        Issue.record("expected an invalid-argument error, got \(error)", sourceLocation: sourceLocation)
    }
}

private func wallClock(step: Int = 5) -> ScheduleContext {
    ScheduleContext(step: step, budget: step + 1, fullBudget: step + 1, epoch: 0, stepsPerEpoch: 10, baseLearningRate: 1, isWallClock: true)
}

/// A schedule that reports what its context says, to see what combinators hand down.
private func reporting(_ name: String, _ read: @escaping @Sendable (ScheduleContext) -> Int) -> Schedule {
    FunctionSchedule(summary: name) { _, context in Double(read(context)) }
}

@Suite struct ScheduleTests {
    // MARK: Built-ins against their formulas

    @Test func constantAndLinear() throws {
        try expectProbes(ConstantSchedule(), [1, 1, 1, 1, 1, 1])
        // 1 − p
        try expectProbes(LinearSchedule(), [1, 0.75, 0.5, 0.25, 0.1, 0.01])
        // 1 − 0.9 p
        try expectProbes(LinearSchedule(final: 0.1), [1, 0.775, 0.55, 0.325, 0.19, 0.109])
    }

    @Test func stepDecayCountsReachedMilestones() throws {
        // gamma^(milestones ≤ p) with 0.5, 0.75, gamma 0.1: p = 0.5 has reached the first.
        try expectProbes(StepSchedule(), [1, 1, 0.1, 0.01, 0.01, 0.01])
        // 0.3, 0.6 with gamma 0.5
        try expectProbes(StepSchedule(milestones: [0.3, 0.6], gamma: 0.5), [1, 1, 0.5, 0.25, 0.25, 0.25])

        // 7 steps, milestone 0.5: 3/7 < 0.5 ≤ 4/7, so the decay starts at step 4.
        expectClose(try StepSchedule(milestones: [0.5]).values(steps: 7), [1, 1, 1, 1, 0.1, 0.1, 0.1])
        // A milestone computed as 0.1 · 3 = 0.30000000000000004 still lands on step 3 of 10.
        let computed = try StepSchedule(milestones: [0.1 * 3]).values(steps: 10)
        #expect(computed[2] == 1 && computed[3] == 0.1)
    }

    @Test func stepDecayAtAbsoluteEpochs() throws {
        // 10 steps per epoch, decays when the epoch index reaches 3 and 6.
        let values = try StepSchedule(epochMilestones: [3, 6], gamma: 0.1).values(steps: 100, stepsPerEpoch: 10)
        #expect(values[29] == 1)
        #expect(abs(values[30] - 0.1) < 1e-15 && abs(values[59] - 0.1) < 1e-15)
        #expect(abs(values[60] - 0.01) < 1e-15 && abs(values[99] - 0.01) < 1e-15)
    }

    @Test func smoothDecays() throws {
        // final^p with final = 1e-3: 1, 10^−0.75, 10^−1.5, 10^−2.25, 10^−2.7, 10^−2.97
        try expectProbes(
            ExponentialSchedule(),
            [1, 0.17782794100389229, 0.031622776601683791, 0.0056234132519034908, 0.0019952623149688795, 0.0010715193052376064],
            tolerance: 1e-14)
        try expectFormula(ExponentialSchedule(final: 0.05)) { p in exp(p * log(0.05)) }

        // (1 − p)^2
        try expectProbes(PolynomialSchedule(), [1, 0.5625, 0.25, 0.0625, 0.01, 0.0001])
        try expectFormula(PolynomialSchedule(power: 0.5)) { p in sqrt(1 - p) }

        // (1 + cos πp) / 2: 1, (1 + √½)/2, ½, (1 − √½)/2, ...
        try expectProbes(CosineSchedule(), [1, 0.85355339059327373, 0.5, 0.14644660940672627, 0.024471741852423234, 0.00024671981713420])
        try expectFormula(CosineSchedule(final: 0.2)) { p in 0.2 + 0.8 * 0.5 * (1 + cos(.pi * p)) }

        // ½ (1 − tanh(−6 + 9p))
        try expectProbes(
            HyperbolicTangentDecaySchedule(),
            [0.9999938558253978, 0.9994472213630764, 0.9525741268224333, 0.18242552380635635, 0.01477403169327307, 0.0029588245219072107])
        try expectFormula(HyperbolicTangentDecaySchedule(lower: -4, upper: 4)) { p in 0.5 * (1 - tanh(-4 + 8 * p)) }

        // (1 − p) / (1 − p/2): 1, 0.75/0.875 = 6/7, 0.5/0.75 = 2/3, 0.25/0.625 = 0.4, 0.1/0.55, 0.01/0.505
        try expectProbes(REXSchedule(), [1, 6.0 / 7, 2.0 / 3, 0.4, 0.1 / 0.55, 0.01 / 0.505])
    }

    @Test func warmupStableDecayCooldowns() throws {
        // 1 until 0.8; q = (p − 0.8)/0.2 is 0.5 at p = 0.9 and 0.95 at p = 0.99.
        try expectProbes(WarmupStableDecaySchedule(), [1, 1, 1, 1, 0.5, 0.05])
        try expectProbes(WarmupStableDecaySchedule(shape: .cosine), [1, 1, 1, 1, 0.5, (1 + cos(0.95 * .pi)) / 2])
        try expectProbes(
            WarmupStableDecaySchedule(shape: .oneMinusSqrt), [1, 1, 1, 1, 1 - sqrt(0.5), 1 - sqrt(0.95)])
        // decay 0.5: q = 2p − 1 past the middle.
        try expectFormula(WarmupStableDecaySchedule(decay: 0.5, shape: .linear)) { p in p <= 0.5 ? 1 : 1 - (2 * p - 1) }
        #expect(try WarmupStableDecaySchedule.Cooldown(named: "1-sqrt") == .oneMinusSqrt)
    }

    @Test func oneCycleMatchesPyTorch() throws {
        // PyTorch OneCycleLR(max_lr=1, total_steps=10) defaults, worked out by hand from its
        // formula: peak at step 0.3·10 − 1 = 2, end at step 9; initial 1/25, final 1/(25·10⁴).
        // Step 1: 1 + (0.04 − 1)/2 · (1 + cos(π/2)) = 0.52. Step 3: pct = 1/7, etc.
        let pytorch10 = [
            0.04, 0.52, 1.0, 0.9504846320134737, 0.8117456539497631, 0.6112620219362893,
            0.38874197806371075, 0.18825834605023697, 0.049519367986526286, 4e-06,
        ]
        expectClose(try OneCycleSchedule().values(steps: 10), pytorch10)

        // PyTorch's get_lr, transliterated: phases end at float(pct_start·T) − 1 and T − 1; a
        // step belongs to the first phase whose end it has not passed (or to the last).
        func pytorchOneCycle(totalSteps: Int, pctStart: Double, div: Double, finalDiv: Double) -> [Double] {
            let initial = 1 / div, minimum = initial / finalDiv
            let phases = [(end: pctStart * Double(totalSteps) - 1, from: initial, to: 1.0), (end: Double(totalSteps - 1), from: 1.0, to: minimum)]
            return (0..<totalSteps).map { step in
                var start = 0.0
                for (i, phase) in phases.enumerated() {
                    if Double(step) <= phase.end || i == phases.count - 1 {
                        let pct = (Double(step) - start) / (phase.end - start)
                        return phase.to + (phase.from - phase.to) / 2 * (cos(.pi * pct) + 1)
                    }
                    start = phase.end
                }
                return .nan
            }
        }
        // A peak between steps (0.3·7 − 1 = 1.1) and non-default factors.
        expectClose(try OneCycleSchedule().values(steps: 7), pytorchOneCycle(totalSteps: 7, pctStart: 0.3, div: 25, finalDiv: 1e4))
        expectClose(
            try OneCycleSchedule(pctStart: 0.25, div: 10, finalDiv: 100).values(steps: 37),
            pytorchOneCycle(totalSteps: 37, pctStart: 0.25, div: 10, finalDiv: 100))

        // pct_start·T = 1 puts PyTorch's peak at step 0 (where it divides by zero): the first
        // step trains at the peak, the rest is the cosine down from it.
        let early = try OneCycleSchedule(pctStart: 0.1).values(steps: 10)
        #expect(early[0] == 1)
        #expect(abs(early[9] - 4e-6) < 1e-15)
    }

    @Test func cosineRestartsRestartWhereCyclesEnd() throws {
        // 4 equal cycles over 100 steps restart at steps 25, 50, 75.
        let equal = try CosineRestartsSchedule().values(steps: 100)
        for restart in [0, 25, 50, 75] {
            #expect(equal[restart] == 1, "restart at step \(restart)")
            // within the cycle: (1 + cos(π t / 25)) / 2
            #expect(abs(equal[restart + 10] - (1 + cos(.pi * 10 / 25)) / 2) < 1e-12)
            #expect(abs(equal[restart + 24] - (1 + cos(.pi * 24 / 25)) / 2) < 1e-12)
        }

        // mult 2, 3 cycles: lengths 1/7, 2/7, 4/7 of 70 steps = 10, 20, 40; restarts at 10, 30.
        let growing = try CosineRestartsSchedule(cycles: 3, mult: 2).values(steps: 70)
        let restarts = growing.indices.filter { $0 > 0 && growing[$0] > growing[$0 - 1] }
        #expect(restarts == [10, 30])
        #expect(growing[10] == 1 && growing[30] == 1)
        #expect(abs(growing[9] - (1 + cos(.pi * 9 / 10)) / 2) < 1e-12)
        #expect(abs(growing[29] - (1 + cos(.pi * 19 / 20)) / 2) < 1e-12)
        #expect(abs(growing[69] - (1 + cos(.pi * 39 / 40)) / 2) < 1e-12)

        try expectFormula(CosineRestartsSchedule(cycles: 1)) { p in (1 + cos(.pi * p)) / 2 }
    }

    @Test func triangularCycles() throws {
        // 4 cycles between 0.1 and 1: x = frac(4p); at p = 0.9, x = 0.6 → 0.1 + 0.9 · 0.8 = 0.82;
        // at p = 0.99, x = 0.96 → 0.1 + 0.9 · 0.08 = 0.172.
        try expectProbes(CyclicSchedule(), [0.1, 0.1, 0.1, 0.1, 0.82, 0.172])
        let values = try CyclicSchedule().values(steps: 100)
        #expect(abs(values[12] - (0.1 + 0.9 * 0.96)) < 1e-12)  // x = 0.48
        #expect(abs(values[13] - (0.1 + 0.9 * 0.96)) < 1e-12)  // x = 0.52
        // 2 cycles from 0: 1 − |2·frac(2p) − 1|
        try expectFormula(CyclicSchedule(cycles: 2, low: 0)) { p in
            let x = (2 * p).truncatingRemainder(dividingBy: 1)
            return 1 - abs(2 * x - 1)
        }
    }

    @Test func inverseSquareRoot() throws {
        // warmup 0.1 of 100 steps: W = 10, n = step + 1: min(n / 10, √(10 / n)).
        try expectFormula(InverseSquareRootSchedule()) { p in
            let n = p * 100 + 1
            return min(n / 10, sqrt(10 / n))
        }
        let values = try InverseSquareRootSchedule().values(steps: 100)
        #expect(abs(values[0] - 0.1) < 1e-15 && abs(values[9] - 1) < 1e-15)
        #expect(abs(values[99] - sqrt(0.1)) < 1e-15)  // ends at √warmup
        // warmup 0: the plain 1/√(step + 1) decay.
        try expectFormula(InverseSquareRootSchedule(warmup: 0)) { p in 1 / sqrt(p * 100 + 1) }
    }

    // MARK: Combinators

    @Test func warmupRampsThenRunsTheScheduleOverTheRest() throws {
        // 100 steps, 10 of warm-up: (k + 1)/10 · s(0), then linear over the remaining 90 steps.
        let values = try WarmupSchedule(0.1, LinearSchedule()).values(steps: 100)
        let expected: [Double] = (0..<100).map { (k: Int) -> Double in k < 10 ? Double(k + 1) / 10 : 1 - Double(k - 10) / 90 }
        expectClose(values, expected)

        // The ramp ends at s(0) of the inner schedule (here 0.5) and joins it without a jump.
        let half = FunctionSchedule(summary: "half") { p, _ in 0.5 * (1 - p) }
        let ramped = try WarmupSchedule(0.05, half).values(steps: 1000)
        #expect(abs(ramped[49] - 0.5) < 1e-15 && abs(ramped[50] - 0.5) < 1e-15)
        #expect(largestJump(ramped) <= 0.5 / 50 + 1e-12)

        // The inner schedule sees the remaining 40 steps as its whole budget, from its step 0;
        // the 10 warm-up steps ramp up to its first value.
        let budgets = try WarmupSchedule(0.2, reporting("budget") { $0.budget }).values(steps: 50)
        #expect(budgets[10...].allSatisfy { $0 == 40 } && budgets[0] == 4 && budgets[9] == 40)
        let steps = try WarmupSchedule(0.2, reporting("step") { $0.step }).values(steps: 50)
        #expect(Array(steps[10...]) == (0..<40).map(Double.init))

        // Tiny budgets: one step cannot warm up; two steps warm up for one.
        expectClose(try WarmupSchedule(0.5, ConstantSchedule()).values(steps: 1), [1])
        expectClose(try WarmupSchedule(0.5, LinearSchedule()).values(steps: 2), [1, 1])
        // warmup 0 is the schedule itself.
        expectClose(try WarmupSchedule(0, CosineSchedule()).values(steps: 20), try CosineSchedule().values(steps: 20))
    }

    @Test func sequenceRunsEachScheduleOverItsSegment() throws {
        // Constant for the first half, then linear over the 50 remaining steps.
        let values = try SequenceSchedule([(until: 0.5, schedule: ConstantSchedule()), (until: 1, schedule: LinearSchedule())])
            .values(steps: 100)
        let expected: [Double] = (0..<100).map { (k: Int) -> Double in k < 50 ? 1 : 1 - Double(k - 50) / 50 }
        expectClose(values, expected)
        #expect(largestJump(values) <= 1.0 / 50 + 1e-12)

        // 7 steps: the first segment holds steps with k/7 < 0.5 (0…3), the second 4…6, each
        // seen as a run of its own.
        let steps = try SequenceSchedule([(until: 0.5, schedule: reporting("step") { $0.step }), (until: 1, schedule: reporting("step") { $0.step })])
            .values(steps: 7)
        #expect(steps == [0, 1, 2, 3, 0, 1, 2])
        let budgets = try SequenceSchedule([(until: 0.5, schedule: reporting("budget") { $0.budget }), (until: 1, schedule: reporting("budget") { $0.budget })])
            .values(steps: 7)
        #expect(budgets == [4, 4, 4, 4, 3, 3, 3])

        // 0.3 · 10 rounds up in binary, yet the first segment is steps 0…2 (p < 0.3).
        let split = try SequenceSchedule([(until: 0.3, schedule: ConstantSchedule()), (until: 1, schedule: FunctionSchedule(summary: "zero") { _, _ in 0 })])
            .values(steps: 10)
        #expect(split == [1, 1, 1, 0, 0, 0, 0, 0, 0, 0])

        // A segment shorter than a step is skipped.
        let skipped = try SequenceSchedule([
            (until: 0.01, schedule: FunctionSchedule(summary: "two") { _, _ in 2 }), (until: 1, schedule: ConstantSchedule()),
        ]).values(steps: 10)
        #expect(skipped == [2] + Array(repeating: 1, count: 9))
    }

    @Test func sampledHoldsTheValueOfEachBlocksStart() throws {
        // Linear held per epoch of 10 steps: 1 − 10·⌊k/10⌋/100.
        let perEpoch = try SampledSchedule(LinearSchedule(), every: .epoch).values(steps: 100, stepsPerEpoch: 10)
        expectClose(perEpoch, (0..<100).map { k in 1 - Double(k / 10 * 10) / 100 })
        for epoch in 0..<10 {
            let block = perEpoch[(epoch * 10)..<(epoch * 10 + 10)]
            #expect(Set(block).count == 1, "epoch \(epoch) is not constant")
            if epoch > 0 { #expect(perEpoch[epoch * 10] < perEpoch[epoch * 10 - 1], "no change at epoch \(epoch)") }
        }

        // Blocks of 7 steps of exp.
        let exponential = try ExponentialSchedule(final: 0.01)
        let blocks = try SampledSchedule(exponential, every: .steps(7)).values(steps: 30)
        expectClose(blocks, (0..<30).map { k in pow(0.01, Double(k / 7 * 7) / 30) })

        // Inside a sequence, epochs stay the data's: the second half (steps 15…29) holds at its
        // own start until the epoch boundary at step 20, then at step 20.
        let inner = try SampledSchedule(reporting("step") { $0.step }, every: .epoch)
        let nested = try SequenceSchedule([(until: 0.5, schedule: ConstantSchedule()), (until: 1, schedule: inner)])
            .values(steps: 30, stepsPerEpoch: 10)
        #expect(Array(nested[15...]) == Array(repeating: 0, count: 5) + Array(repeating: 5, count: 10))
    }

    @Test func truncatedIsPlannedForTheFullBudget() throws {
        let step = try StepSchedule()
        // At 10% of a 100-step full budget, step decay (milestones at 50 and 75) never decays.
        #expect(try TruncatedSchedule(step).values(steps: 10, fullSteps: 100) == Array(repeating: 1, count: 10))
        // At 100% it is the schedule itself.
        #expect(try TruncatedSchedule(step).values(steps: 100, fullSteps: 100) == (try step.values(steps: 100)))
        // At 60% it decays once, at step 50 of the full budget.
        let sixty = try TruncatedSchedule(step).values(steps: 60, fullSteps: 100)
        #expect(sixty[49] == 1 && sixty[50] == 0.1 && sixty[59] == 0.1)
        // Linear planned for 100 steps, cut at 50: 1 − k/100, ending at 0.51.
        expectClose(try TruncatedSchedule(LinearSchedule()).values(steps: 50, fullSteps: 100), (0..<50).map { 1 - Double($0) / 100 })
        // Longer than the full budget: holds the full budget's last value.
        let longer = try TruncatedSchedule(LinearSchedule()).values(steps: 20, fullSteps: 10)
        #expect(abs(longer[9] - 0.1) < 1e-15 && abs(longer[19] - 0.1) < 1e-15)
    }

    @Test func functionScheduleReceivesProgressAndContext() throws {
        let squared = FunctionSchedule(summary: "squared") { p, _ in (1 - p) * (1 - p) }
        try expectFormula(squared) { p in pow(1 - p, 2) }
        #expect(squared.summary == "squared")
        let epochs = try reporting("epoch") { $0.epoch }.values(steps: 6, stepsPerEpoch: 2)
        #expect(epochs == [0, 0, 1, 1, 2, 2])
    }

    // MARK: Wall-clock budgets

    @Test func wallClockBudgetsUseContinuousForms() throws {
        let context = wallClock()
        // Warm-up ramp p / w, then the schedule over (p − w)/(1 − w).
        let warmup = try WarmupSchedule(0.2, LinearSchedule())
        #expect(abs(try warmup.multiplier(at: 0.1, context: context) - 0.5) < 1e-15)
        #expect(abs(try warmup.multiplier(at: 0.6, context: context) - 0.5) < 1e-15)
        // One-cycle peaks at pct_start and ends at 1/(div·final_div).
        let onecycle = try OneCycleSchedule()
        #expect(abs(onecycle.multiplier(at: 0, context: context) - 0.04) < 1e-15)
        #expect(abs(onecycle.multiplier(at: 0.3, context: context) - 1) < 1e-15)
        #expect(abs(onecycle.multiplier(at: 1, context: context) - 4e-6) < 1e-15)
        // Sequence: local progress (p − a)/(b − a).
        let sequence = try SequenceSchedule([(until: 0.5, schedule: ConstantSchedule()), (until: 1, schedule: LinearSchedule())])
        #expect(abs(try sequence.multiplier(at: 0.75, context: context) - 0.5) < 1e-15)
        // inverse_sqrt: min(p/w, √(w/p)).
        #expect(abs(try InverseSquareRootSchedule(warmup: 0.25).multiplier(at: 1, context: context) - 0.5) < 1e-15)

        // What has no wall-clock meaning stops the run with a message naming the schedule.
        for schedule: Schedule in [
            try SampledSchedule(LinearSchedule()), try TruncatedSchedule(LinearSchedule()), try InverseSquareRootSchedule(warmup: 0),
        ] {
            #expect(throws: EngineError.self, "\(schedule.summary)") { try schedule.multiplier(at: 0.5, context: context) }
            do {
                _ = try schedule.multiplier(at: 0.5, context: context)
            } catch let EngineError.training(message) {
                #expect(message.contains(schedule.summary) && message.contains("wall-clock"))
            }
        }
    }

    // MARK: Validation and checks

    @Test func constructorsRejectBadArguments() {
        expectInvalid(["linear", "final", "-1"]) { try LinearSchedule(final: -1) }
        expectInvalid(["step: milestones must be in (0, 1), got 1.5"]) { try StepSchedule(milestones: [0.5, 1.5]) }
        expectInvalid(["step", "milestones must increase", "0.5 after 0.75"]) { try StepSchedule(milestones: [0.75, 0.5]) }
        expectInvalid(["step", "gamma", "0"]) { try StepSchedule(gamma: 0) }
        expectInvalid(["step", "epoch_milestones", "0"]) { try StepSchedule(epochMilestones: [0, 5]) }
        expectInvalid(["step", "increase"]) { try StepSchedule(epochMilestones: [5, 5]) }
        expectInvalid(["exp", "final", "0"]) { try ExponentialSchedule(final: 0) }
        expectInvalid(["poly", "power", "-1"]) { try PolynomialSchedule(power: -1) }
        expectInvalid(["cosine", "final", "nan"]) { try CosineSchedule(final: .nan) }
        expectInvalid(["htd", "lower", "upper"]) { try HyperbolicTangentDecaySchedule(lower: 3, upper: -6) }
        expectInvalid(["wsd", "decay", "0"]) { try WarmupStableDecaySchedule(decay: 0) }
        expectInvalid(["wsd", "decay", "1.5"]) { try WarmupStableDecaySchedule(decay: 1.5) }
        expectInvalid(["wsd", "shape", "\"sqrt\""]) { try WarmupStableDecaySchedule.Cooldown(named: "sqrt") }
        expectInvalid(["onecycle", "pct_start", "1.2"]) { try OneCycleSchedule(pctStart: 1.2) }
        expectInvalid(["onecycle", "div"]) { try OneCycleSchedule(div: 0) }
        expectInvalid(["onecycle", "final_div", "inf"]) { try OneCycleSchedule(finalDiv: .infinity) }
        expectInvalid(["sgdr", "cycles", "0"]) { try CosineRestartsSchedule(cycles: 0) }
        expectInvalid(["sgdr", "mult", "-2"]) { try CosineRestartsSchedule(mult: -2) }
        expectInvalid(["sgdr", "overflows"]) { try CosineRestartsSchedule(cycles: 5000, mult: 10) }
        expectInvalid(["cyclic", "cycles", "0"]) { try CyclicSchedule(cycles: 0) }
        expectInvalid(["cyclic", "low", "2"]) { try CyclicSchedule(low: 2) }
        expectInvalid(["inverse_sqrt", "warmup", "1"]) { try InverseSquareRootSchedule(warmup: 1) }
        expectInvalid(["warmup", "fraction", "-0.1"]) { try WarmupSchedule(-0.1, ConstantSchedule()) }
        expectInvalid(["warmup", "1"]) { try WarmupSchedule(1, ConstantSchedule()) }
        expectInvalid(["sequence", "at least one"]) { try SequenceSchedule([]) }
        expectInvalid(["sequence", "last segment must end at 1", "0.9"]) {
            try SequenceSchedule([(until: 0.5, schedule: ConstantSchedule()), (until: 0.9, schedule: ConstantSchedule())])
        }
        expectInvalid(["sequence", "segment 2", "must increase"]) {
            try SequenceSchedule([(until: 0.5, schedule: ConstantSchedule()), (until: 0.5, schedule: ConstantSchedule()), (until: 1, schedule: ConstantSchedule())])
        }
        expectInvalid(["sequence", "segment 1", "(0, 1]"]) { try SequenceSchedule([(until: 2, schedule: ConstantSchedule())]) }
        expectInvalid(["sampled", "steps", "0"]) { try SampledSchedule(ConstantSchedule(), every: .steps(0)) }
        expectInvalid(["steps", "0"]) { try ConstantSchedule().values(steps: 0) }
        expectInvalid(["fullSteps", "-3"]) { try ConstantSchedule().values(steps: 5, fullSteps: -3) }
    }

    @Test func checkedMultiplierRejectsNaNInfinityAndNegatives() throws {
        let context = ScheduleContext(step: 7, budget: 10, fullBudget: 10, epoch: 0, stepsPerEpoch: 10, baseLearningRate: 0.1)
        for (bad, text) in [(Double.nan, "nan"), (.infinity, "inf"), (-0.5, "-0.5")] {
            let schedule = FunctionSchedule(summary: "bad") { _, _ in bad }
            do {
                _ = try schedule.checkedMultiplier(at: 0.7, context: context)
                Issue.record("\(bad) was accepted")
            } catch let EngineError.training(message) {
                #expect(message.contains("step 7") && message.contains(text) && message.contains("'bad'"), "\(message)")
            }
        }
        // values() checks every step too.
        #expect(throws: EngineError.self) { try FunctionSchedule(summary: "neg") { p, _ in 0.5 - p }.values(steps: 4) }
        #expect(try ConstantSchedule().checkedMultiplier(at: 0.7, context: context) == 1)
    }

    @Test func summariesShowNonDefaultArguments() throws {
        #expect(LinearSchedule().summary == "linear")
        #expect(try StepSchedule().summary == "step")
        #expect(try StepSchedule(milestones: [0.3, 0.6], gamma: 0.2).summary == "step(milestones=0.3,0.6, gamma=0.2)")
        #expect(try StepSchedule(epochMilestones: [30, 60]).summary == "step(epoch_milestones=30,60)")
        #expect(try ExponentialSchedule().summary == "exp")
        #expect(try CosineSchedule(final: 0.01).summary == "cosine(final=0.01)")
        #expect(try HyperbolicTangentDecaySchedule(upper: 4).summary == "htd(upper=4)")
        #expect(try WarmupStableDecaySchedule(decay: 0.1, shape: .oneMinusSqrt).summary == "wsd(decay=0.1, shape=1-sqrt)")
        #expect(try OneCycleSchedule(pctStart: 0.25).summary == "onecycle(pct_start=0.25)")
        #expect(try CosineRestartsSchedule(cycles: 3, mult: 2).summary == "sgdr(cycles=3, mult=2)")
        #expect(try CyclicSchedule().summary == "cyclic")
        #expect(try InverseSquareRootSchedule(warmup: 0.05).summary == "inverse_sqrt(warmup=0.05)")
        #expect(try WarmupSchedule(0.05, CosineSchedule()).summary == "warmup(0.05, cosine)")
        #expect(
            try SequenceSchedule([(until: 0.1, schedule: LinearSchedule()), (until: 1, schedule: CosineSchedule())]).summary
                == "sequence(linear to 0.1, cosine to 1)")
        #expect(try SampledSchedule(ExponentialSchedule(), every: .epoch).summary == "sampled(exp, every=epoch)")
        #expect(try SampledSchedule(REXSchedule(), every: .steps(100)).summary == "sampled(rex, steps=100)")
        #expect(try TruncatedSchedule(StepSchedule()).summary == "truncated(step)")
    }
}

/// WSD with its warm-up counted on the full budget and its cooldown in steps.
@Suite struct WarmupStableDecayLengthTests {
    func values(_ s: WarmupStableDecaySchedule, budget: Int, full: Int) throws -> [Double] {
        try (0..<budget).map { step in
            try s.checkedMultiplier(at: Double(step) / Double(budget), context: ScheduleContext(
                step: step, budget: budget, fullBudget: full, epoch: 0, stepsPerEpoch: budget, baseLearningRate: 1))
        }
    }

    func close(_ a: [Double], _ b: [Double]) -> Bool { a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) < 1e-12 } }

    @Test func warmupOfTheFullBudgetIsTheSameAtEveryBudget() throws {
        let s = try WarmupStableDecaySchedule(warmup: .fraction(0.1), decay: .fraction(0.5))
        // 10% of a 40-step full budget: 4 warm-up steps whatever the run's own budget.
        #expect(close(try values(s, budget: 10, full: 40), [0.25, 0.5, 0.75, 1, 1, 1, 0.8, 0.6, 0.4, 0.2]))
        #expect(try Array(values(s, budget: 40, full: 40).prefix(5)) == [0.25, 0.5, 0.75, 1, 1])
    }

    @Test func cooldownInStepsEndsEveryBudgetAlike() throws {
        let s = try WarmupStableDecaySchedule(warmup: .steps(2), decay: .steps(4), shape: .linear)
        #expect(close(try values(s, budget: 8, full: 8), [0.5, 1, 1, 1, 1, 0.75, 0.5, 0.25]))
        #expect(close(try Array(values(s, budget: 20, full: 8).suffix(4)), [1, 0.75, 0.5, 0.25]))
        #expect(s.summary == "wsd(warmup_steps=2, decay_steps=4)")
        #expect(throws: EngineError.self) { try WarmupStableDecaySchedule(warmup: .fraction(1)) }
        #expect(throws: EngineError.self) { try WarmupStableDecaySchedule(decay: .steps(0)) }
    }
}
