import BudgetEngine
import BudgetExperiments
import Foundation
import Testing

/// One trunk for many budgets: runs that share their beginning train it once, and every
/// result is bit for bit that of the independent run.
@Suite struct TrunkTests {
    static let script = luaPrelude + """
        local schedules = schedule.wsd_grid { decay = { 0.1, 0.2 }, shape = { "linear", "1-sqrt" }, warmup = 0.05 }
        table.insert(schedules, { "linear", schedule.linear() })
        table.insert(schedules, { "lua-wsd", function(p) return p < 0.8 and 1 or (1 - p) / 0.2 end })
        experiment {
          name = "wsd", data = { train = blobs(400, 1), test = blobs(200, 2) },
          model = function() return nn.Sequential { nn.Linear(2, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 4) } end,
          optimizer = optim.sgd { lr = 0.1, momentum = 0.9 }, batch_size = 20,
          full_budget = { epochs = 4 }, budgets = { 0.25, 0.5, 1 }, seeds = { 1 },
          schedules = schedules, eval_at = { 0.5, 1 }, probes = { grad_norm = { 1 } },
          share_trunks = arg[1] ~= "off",
        }
        """

    @Test func sharedTrunksGiveTheIndependentResults() throws {
        let dir = try TemporaryDirectory()
        try dir.write("wsd.lua", Self.script)
        let alone = try runBudgetrain(["run", "wsd.lua", "--threads", "1", "--out", "alone", "--", "off"], in: dir.path)
        let shared = try runBudgetrain(["run", "wsd.lua", "--threads", "1", "--out", "shared"], in: dir.path)
        let jobs = try runBudgetrain(["run", "wsd.lua", "--quiet", "--jobs", "2", "--threads", "2", "--out", "jobs"], in: dir.path)
        for outcome in [alone, shared, jobs] { #expect(outcome.status == 0, "\(outcome.stderr)") }
        // 6 schedules × 3 budgets = 18 runs of 20, 40 and 80 steps: 840 steps. The four WSD
        // cooldowns and the Lua one share their stable phase with the full-budget run; linear
        // decay shares nothing.
        #expect(shared.stderr.contains("wsd: 10 runs branch from a shared trunk: 580 steps to train instead of 840"), "\(shared.stderr)")
        #expect(shared.stdout.contains("Shared trunks: 10 runs continued from a trunk; 580 steps trained instead of 840 (31% saved)."))
        #expect(!alone.stdout.contains("Shared trunks"))
        for other in ["shared", "jobs"] {
            #expect(DurableSweepTests.withoutSeconds(try dir.read("\(other)/wsd/results.csv")) == DurableSweepTests.withoutSeconds(try dir.read("alone/wsd/results.csv")))
            for row in try ResultsTable.read(path: dir.path + "/alone/wsd/results.csv").rows {
                #expect(try dir.read("\(other)/wsd/\(row.run)/metrics.jsonl") == dir.read("alone/wsd/\(row.run)/metrics.jsonl"), "\(other) \(row.run)")
            }
        }
        let record = try #require(try RunFolder(path: dir.path + "/shared/wsd/wsd-0.1-linear-b0.25-s1").readRecord())
        // 20 steps, the last 10% cooling down: steps 0 ... 18 train at the stable rate.
        #expect(record.trunkSteps == 19)
        #expect(try RunFolder(path: dir.path + "/shared/wsd/linear-b0.25-s1").readRecord()?.trunkSteps == nil)
    }

    @Test func trunkPlanFindsPrefixesByValueNotByName() throws {
        let train = try SyntheticData.gaussianBlobs(count: 100, classes: 2, dimensions: 2, seed: 1)
        let plan = try ExperimentPlan(name: "t", fullBudget: .iterations(100), budgets: [.fraction(0.1), .fraction(0.5), .fraction(1)],
                                      schedules: ["constant", "step", "cosine"], seeds: [1])
        let schedules: [String: Schedule] = [
            "constant": ConstantSchedule(),
            "step": try StepSchedule(milestones: [0.5], gamma: 0.1),
            "cosine": try CosineSchedule(),
        ]
        let trunks = try TrunkPlan(plan: plan) { cell in
            RunSpec(makeModel: { rng in try Sequential([try Linear(inputs: 2, outputs: 2, rng: &rng)]) },
                    optimizer: try SGD.Options(learningRate: 0.1), train: train, test: nil, batchSize: 10,
                    budget: cell.budget.resolve(full: plan.fullBudget), fullBudget: plan.fullBudget,
                    schedule: schedules[cell.schedule] ?? ConstantSchedule(), seed: cell.seed)
        }
        // A constant rate: every shorter run is all trunk.
        #expect(trunks.branches["constant-b1-s1"] == [.init(run: "constant-b0.1-s1", steps: 10), .init(run: "constant-b0.5-s1", steps: 50)])
        // A budget-aware step decay shares the steps before its shorter run's milestone.
        #expect(trunks.branches["step-b1-s1"] == [.init(run: "step-b0.1-s1", steps: 5), .init(run: "step-b0.5-s1", steps: 25)])
        // Cosine differs from the second step on: nothing worth sharing.
        #expect(trunks.branches["cosine-b1-s1"] == nil)
        #expect(trunks.totalSteps == 3 * 160 && trunks.sharedSteps == 60 + 30)
    }
}
