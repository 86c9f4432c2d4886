import Foundation
import Testing
@testable import BudgetEngine
@testable import BudgetExperiments
import TestSupport

/// The search replayed on a grid, the bootstrap intervals of rank correlations, the search
/// summary read back from results, time to target and performance profiles.
@Suite struct SearchAnalysisTests {
    func row(_ schedule: String, _ config: String, _ budget: Double, _ accuracy: Double, seed: UInt64 = 1,
             steps: Int? = nil, extras: [String: String] = [:]) -> ResultRow {
        let s = steps ?? Int(100 * budget)
        return ResultRow(
            experiment: "e", run: "\(schedule)-\(config)-\(budget)-\(seed)", schedule: schedule, budget: budget, budgetSteps: s,
            seed: seed, status: .ok, steps: s, seconds: Double(s) / 100, finalLR: 0, trainLoss: 0, testLoss: 1 - accuracy,
            testAccuracy: accuracy, gradNorm: nil, extras: extras.merging(["c": config]) { a, _ in a }, flops: Double(s) * 10)
    }

    /// Four configurations, rungs 0.25, 0.5 and 1 with η = 2. "aware" ranks them at 0.25 as at
    /// 1; "truncated" ranks the best last at 0.25, so halving drops it.
    func grid() -> [ResultRow] {
        let aware: [String: [Double]] = ["a": [0.5, 0.6, 0.7], "b": [0.6, 0.7, 0.8], "c": [0.7, 0.8, 0.85], "d": [0.8, 0.9, 0.95]]
        let truncated: [String: [Double]] = ["a": [0.7, 0.6, 0.7], "b": [0.6, 0.7, 0.8], "c": [0.65, 0.8, 0.85], "d": [0.5, 0.9, 0.95]]
        var rows: [ResultRow] = []
        for (schedule, table) in [("aware", aware), ("truncated", truncated)] {
            for (config, values) in table.sorted(by: { $0.key < $1.key }) {
                for (b, a) in zip([0.25, 0.5, 1], values) { rows.append(row(schedule, config, b, a)) }
            }
        }
        return rows
    }

    @Test func replayChoosesAsSuccessiveHalvingWouldAndCountsItsCompute() throws {
        let aware = try SearchReplay(rows: grid(), schedule: "aware", method: .successiveHalving, eta: 2, minimum: 0.25, reference: 1)
        #expect(aware.chosen == "c=d")
        #expect(aware.regret == 0)
        // 4 runs at 0.25 (25 steps), 2 at 0.5 (50), 1 at 1 (100): 300 steps; the grid 4 × 100.
        #expect(aware.compute.steps == 300)
        #expect(aware.grid.steps == 400)
        #expect(aware.compute.flops == 3000)
        #expect(aware.rungBudgets == [0.25, 0.5, 1])

        let truncated = try SearchReplay(rows: grid(), schedule: "truncated", method: .successiveHalving, eta: 2, minimum: 0.25, reference: 1)
        // At 0.25 a (0.7) and c (0.65) survive; at 0.5 c (0.8) beats a (0.6).
        #expect(truncated.chosen == "c=c")
        #expect(abs((truncated.regret ?? 0) - 0.1) < 1e-12)
        #expect(truncated.best == "c=d")
    }

    @Test func replayNeedsEveryRungInTheGrid() {
        let rows = grid().filter { $0.budget != 0.5 }
        #expect { try SearchReplay(rows: rows, schedule: "aware", method: .successiveHalving, eta: 2, minimum: 0.25, reference: 1) } throws: {
            "\($0)".contains("no runs at budget 0.5")
        }
        let hyperband = try? SearchReplay(rows: grid(), schedule: "aware", method: .hyperband, eta: 2, minimum: 0.25, reference: 1)
        #expect(hyperband?.chosen == "c=d")
    }

    @Test func bootstrapIntervalsOverSeeds() throws {
        // One seed everywhere: no spread, the interval is the point.
        let single = RankBootstrap.samples(rows: grid().filter { $0.schedule == "aware" }, budget: 0.25, reference: 1) { $0.configuration }
        let point = try RankBootstrap.entry(name: "aware", samples: single, resamples: 200, seed: 1)
        #expect(point.kendallTau == 1)
        #expect(point.tauInterval == .init(low: 1, high: 1))
        // Two seeds that disagree about b and c at the small budget: the interval spreads.
        var rows = grid().filter { $0.schedule == "aware" }
        rows += rows.map { r in
            var r = r
            r.seed = 2
            if r.budget == 0.25, r.extras["c"] == "b" { r.testAccuracy = 0.75 }
            return r
        }
        let samples = RankBootstrap.samples(rows: rows, budget: 0.25, reference: 1) { $0.configuration }
        let spread = try RankBootstrap.entry(name: "aware", samples: samples, resamples: 500, seed: 1)
        #expect(spread.seeds == 2)
        #expect(spread.tauInterval.low < spread.tauInterval.high)
        #expect(spread.tauInterval.low <= spread.kendallTau && spread.kendallTau <= 1)
        // Seeded: the same resamples again.
        #expect(try RankBootstrap.entry(name: "aware", samples: samples, resamples: 500, seed: 1).tauInterval == spread.tauInterval)
        #expect(RankBootstrap.percentileInterval([1, 2, 3, 4, 5]) == .init(low: 1, high: 5))
        #expect(RankBootstrap.percentileInterval(Array(stride(from: 0.0, through: 100, by: 1))) == .init(low: 3, high: 98))
    }

    @Test func searchSummaryReadsRungsSurvivorsWinnerAndCompute() throws {
        func cell(_ config: String, _ rung: Int, _ budget: Double, _ accuracy: Double) -> ResultRow {
            row("linear", config, budget, accuracy, extras: ["bracket": "1", "rung": String(rung)])
        }
        let rows = [cell("a", 0, 0.5, 0.6), cell("b", 0, 0.5, 0.7), cell("b", 1, 1, 0.9)]
        let config: [String: Any] = ["search": ["method": "successive halving", "eta": 2, "schedule": "linear", "continue": true,
                                                "metric": "test_accuracy", "configurations": 2, "seeds": 1]]
        let summary = try #require(SearchSummary(experiment: "e", rows: rows, config: config))
        #expect(summary.rungs.map(\.trained.count) == [2, 1])
        #expect(summary.rungs[0].survivors == ["c=b"])
        #expect(summary.winner?.name == "c=b")
        // Continued: the second rung trained 100 − 50 steps itself.
        #expect(summary.rungs.map(\.steps) == [100, 50])
        #expect(summary.gridSteps == 200)
        #expect(summary.markdown().contains("Winner: **c=b**"))
        #expect(summary.markdown().contains("- bracket 1, rung 0 → 1: c=b\n"))
        #expect(SearchSummary(experiment: "e", rows: rows, config: [:]) == nil)

        // Against a grid where c=a is best at the full budget: a regret of 0.05, matched by the
        // configuration's fields whatever the grid's schedule.
        var compared = summary
        compared.compare(with: "grid", rows: [row("constant", "a", 1, 0.95), row("constant", "b", 1, 0.9), row("constant", "a", 0.5, 0.99)])
        #expect(compared.regret?.best == "c=a")
        #expect(abs((compared.regret?.regret ?? 0) - 0.05) < 1e-12)
        #expect(compared.regret?.gridSteps == 200)
        #expect(compared.markdown().contains("a regret of 0.0500"))
    }

    @Test func timeToTargetReadsTheEvaluations() throws {
        let dir = try temporaryDirectory("time-to-target")
        func write(_ run: String, _ evaluations: [(Int, Double)]) throws {
            try FileManager.default.createDirectory(atPath: dir + "/" + run, withIntermediateDirectories: true)
            let lines = evaluations.map { "{\"event\":\"evaluation\",\"step\":\($0.0),\"progress\":0.5,\"test_accuracy\":\($0.1)}" }
            try (["{\"step\":0,\"progress\":0,\"epoch\":0,\"lr\":0.1,\"loss\":2}"] + lines).joined(separator: "\n").write(toFile: dir + "/" + run + "/metrics.jsonl", atomically: true, encoding: .utf8)
        }
        // fast reaches 0.8 at step 10, slow at step 40 (seconds: steps / 100 each).
        try write("fast", [(10, 0.85), (20, 0.9)])
        try write("slow", [(20, 0.7), (40, 0.82)])
        var fast = row("fast", "x", 1, 0.9), slow = row("slow", "x", 1, 0.82)
        fast.run = "fast"
        slow.run = "slow"
        let table = TimeToTarget(experiment: "e", runs: [(dir, fast), (dir, slow)], targets: [0.8, 0.88])
        let f = try #require(table.cells[0.8]?[fast.configuration]?[1])
        #expect(f.steps == 10 && f.reached == 1 && abs(f.seconds - 0.1) < 1e-12)
        #expect(table.cells[0.88]?[slow.configuration]?[1]?.reached == 0)
        #expect(table.markdown().contains("10 steps, 0.1 s"))
        // Profiles: fast solves both targets fastest; slow solves one at 4× the time.
        let profile = PerformanceProfile([table])
        #expect(profile.fraction(fast.configuration, within: 1) == 1)
        #expect(profile.fraction(slow.configuration, within: 2) == 0)
        #expect(profile.fraction(slow.configuration, within: 4) == 0.5)
    }

    @Test func resultsWithoutAFLOPsColumnStillRead() throws {
        let dir = try temporaryDirectory("old-results")
        let old = ResultsTable.columnsWithoutFLOPs.joined(separator: ",") + ",message\ne,r,linear,1,10,1,ok,10,1.5,0,0.1,0.2,0.9,,\n"
        try old.write(toFile: dir + "/results.csv", atomically: true, encoding: .utf8)
        let rows = try ResultsTable.read(path: dir + "/results.csv").rows
        #expect(rows.first?.flops == nil && rows.first?.testAccuracy == 0.9)
        try ResultsTable(path: dir + "/new.csv", extraColumns: ["message"]).write([row("linear", "x", 1, 0.9)])
        #expect(try ResultsTable.read(path: dir + "/new.csv").rows.first?.flops == 1000)
    }

    @Test func stepLinesCarryTheGradientNormAndARefinedScheduleReadsThem() throws {
        let dir = try temporaryDirectory("step-norms")
        let log = try MetricsLog(path: dir + "/run/metrics.jsonl", thinning: .none)
        for step in 0..<4 {
            var r = StepRecord(step: step, progress: Double(step) / 4, epoch: 0, learningRate: 0.1, loss: 1, budgetSteps: 4, elapsed: 0)
            r.gradNorm = [1, 2, 1, 1][step]
            log.didStep(r)
        }
        log.didEvaluate(EvaluationRecord(step: 4, progress: 1, gradNorm: 9))
        try log.flush()
        let text = try String(contentsOfFile: dir + "/run/metrics.jsonl", encoding: .utf8)
        #expect(text.hasPrefix("{\"step\":0,\"progress\":0,\"epoch\":0,\"lr\":0.1,\"loss\":1,\"grad_norm\":1}\n"))
        // The evaluation's full-batch norm is not a step's.
        #expect(try StepGradientNorms.read(from: dir + "/run").map(\.norm) == [1, 2, 1, 1])
        let source = try RefinedScheduleSource(path: dir + "/run", smoothing: 0)
        let context = ScheduleContext(step: 1, budget: 4, fullBudget: 4, epoch: 0, stepsPerEpoch: 4, baseLearningRate: 1)
        #expect(abs(try source.multiplier(at: 0.25, context: context) - 2.0 / 9) < 1e-12)
        let missing = try RefinedScheduleSource(path: dir + "/nothing", smoothing: 0)
        #expect(!missing.sourceExists)
        #expect(throws: RefinedScheduleSourceMissing.self) { try missing.load() }
    }
}
