import BudgetEngine
import BudgetExperiments
import Foundation
import LuaHost
import Testing

/// Budgets in examples and FLOPs, `model:flops`, the subset and weight-decay axes, the
/// per-step gradient norm, `schedule.refined`, and the rank and report commands' analyses.
@Suite struct ComputeAndScheduleTests {
    func rows(_ path: String) throws -> [ResultRow] { try ResultsTable.read(path: path).rows }

    @Test func modelFLOPsFromLua() throws {
        let host = try runLua("""
            local m = nn.Sequential { nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10) }
            train_flops, forward_flops = m:flops { 1, 28, 28 }
            """)
        // 784·256 + 256·10 = 203,264 multiply-adds.
        #expect(host.global("forward_flops").intValue == 406_528)
        #expect(host.global("train_flops").intValue == 1_219_584)
    }

    /// `budgetrain peak` measures a positive GFLOP/s and names what it measured; bad sizes are
    /// usage errors.
    @Test func peakCommand() throws {
        let dir = try TemporaryDirectory()
        let peak = try runBudgetrain(["peak", "--threads", "1", "--size", "128", "--repeats", "2"], in: dir.path)
        #expect(peak.status == 0, "\(peak.stderr)")
        let fields = peak.stdout.split(separator: " ")
        #expect(fields.first == "sgemm_peak:" && fields.count > 2 && fields[2] == "GFLOP/s", "\(peak.stdout)")
        #expect((fields.count > 1 ? Double(fields[1]) : nil).map { $0 > 0 } == true, "\(peak.stdout)")
        #expect(peak.stdout.contains("n=128, 1 threads, best of 2"))
        for bad in [["--size", "8"], ["--size", "100000"], ["--repeats", "0"], ["--threads", "0"]] {
            let outcome = try runBudgetrain(["peak"] + bad, in: dir.path)
            #expect(outcome.status == 2, "\(bad): \(outcome.stderr)")
            #expect(outcome.stderr.contains(bad[0]), "\(bad): \(outcome.stderr)")
        }
    }

    @Test func budgetsInExamplesAndFLOPs() throws {
        let dir = try TemporaryDirectory()
        let host = try runScript(luaPrelude + """
            local d = { train = blobs(400, 1), test = blobs(100, 2) }
            local function run(budget)
              return train { data = d, model = mlp, optimizer = optim.sgd { lr = 0.1 }, batch_size = 20, budget = budget }
            end
            -- mlp() is 2-16-4: 96 multiply-adds, 576 training FLOPs an example, 11,520 a step of 20.
            by_examples = run { examples = 1000 }
            by_flops = run { flops = 11520 * 30 }
            """, in: dir)
        #expect(host.global("by_examples")["steps"]?.intValue == 50)
        #expect(host.global("by_flops")["steps"]?.intValue == 30)
        #expect(scriptError(luaPrelude + "train { data = blobs(20, 1), model = mlp, optimizer = optim.sgd { lr = 0.1 }, budget = { flops = -1 } }", in: dir)?
            .contains("flops must be a positive number") == true)
    }

    /// A FLOPs budget gives wider models fewer steps, the same compute; results.csv says so.
    @Test func experimentsAtEqualFLOPs() throws {
        let dir = try TemporaryDirectory()
        try dir.write("f.lua", luaPrelude + """
            experiment {
              name = "f", data = { train = blobs(400, 1), test = blobs(100, 2) },
              model = function(cfg) return nn.Sequential { nn.Linear(2, cfg.width), nn.ReLU(), nn.Linear(cfg.width, 4) } end,
              optimizer = optim.sgd { lr = 0.1 }, batch_size = 20,
              full_budget = { flops = 2e6 }, budgets = { 0.5, 1 }, schedules = { linear = schedule.linear() }, seeds = { 1 },
              vary = { width = { 8, 32 } },
            }
            """)
        let outcome = try runBudgetrain(["run", "f.lua", "--quiet"], in: dir.path)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let results = try rows(dir.path + "/runs/f/results.csv")
        // width 8: 48 MACs, 5,760 FLOPs a step → 347 steps; width 32: 192 MACs → 87 steps.
        #expect(results.filter { $0.budget == 1 }.map(\.budgetSteps) == [347, 87])
        for r in results where r.budget == 1 { #expect(abs((r.flops ?? 0) - 2e6) < 0.01 * 2e6) }
        #expect(results.allSatisfy { $0.flops != nil })
    }

    /// The paper's subset baseline: half the data for the full epochs is half the steps.
    /// Weight decay applies as a varied field; every field reaches the factory.
    @Test func subsetAndWeightDecayAxes() throws {
        let dir = try TemporaryDirectory()
        try dir.write("s.lua", luaPrelude + """
            experiment {
              name = "s", data = { train = blobs(400, 1), test = blobs(100, 2) },
              model = function(cfg) assert(cfg.subset and cfg.weight_decay) return mlp() end,
              optimizer = optim.sgd { lr = 0.1, momentum = 0.9 }, batch_size = 20,
              full_budget = { epochs = 2 }, schedules = { linear = schedule.linear() }, seeds = { 1 },
              vary = { subset = { 0.5, 1 }, weight_decay = { 0, 0.1 } },
            }
            """)
        let outcome = try runBudgetrain(["run", "s.lua", "--quiet"], in: dir.path)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let results = try rows(dir.path + "/runs/s/results.csv")
        #expect(results.count == 4)
        for r in results { #expect(r.steps == (r.extras["subset"] == "0.5" ? 20 : 40)) }
        let decayed = results.filter { $0.extras["subset"] == "1" }.map(\.trainLoss)
        #expect(decayed[0] != decayed[1])
        let bad = try runBudgetrain(["check", "s.lua"], in: dir.path)
        #expect(bad.status == 0)
        try dir.write("bad.lua", luaPrelude + """
            experiment { name = "b", data = { train = blobs(100, 1) }, model = mlp, optimizer = optim.sgd { lr = 0.1 },
              full_budget = { iterations = 5 }, schedules = { linear = schedule.linear() }, vary = { subset = { 2 } } }
            """)
        let refused = try runBudgetrain(["check", "bad.lua"], in: dir.path)
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("subset values must be fractions in (0, 1]"))
    }

    /// `probes.step_grad_norm` logs every step's gradient norm; `schedule.refined` reads it,
    /// from a run that an experiment declared earlier trains first, in run and check mode;
    /// `budgetrain schedule` previews it once it exists.
    @Test func refinedScheduleFromAnEarlierExperiment() throws {
        let dir = try TemporaryDirectory()
        try dir.write("r.lua", luaPrelude + """
            local d = { train = blobs(400, 1), test = blobs(100, 2) }
            local common = { data = d, model = mlp, optimizer = optim.sgd { lr = 0.1, momentum = 0.9 }, batch_size = 20,
                             full_budget = { epochs = 2 }, seeds = { 1 } }
            experiment { name = "source", data = d, model = mlp, optimizer = common.optimizer, batch_size = 20,
                         full_budget = { epochs = 2 }, schedules = { linear = schedule.linear() }, seeds = { 1 },
                         probes = { step_grad_norm = true } }
            local refined = schedule.refined { from = budgetrain.out_dir .. "/source/linear-b1-s1", smooth = 0.1 }
            experiment { name = "refined", data = d, model = mlp, optimizer = common.optimizer, batch_size = 20,
                         full_budget = { epochs = 2 }, budgets = { 0.5, 1 }, seeds = { 1 },
                         schedules = { { "refined", refined }, { "linear", schedule.linear() } } }
            """)
        let check = try runBudgetrain(["check", "r.lua"], in: dir.path)
        #expect(check.status == 0, "\(check.stderr)")
        #expect(check.stdout.contains("is checked once"), "\(check.stdout)")
        let outcome = try runBudgetrain(["run", "r.lua", "--quiet"], in: dir.path)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let source = try jsonLines(try dir.read("runs/source/linear-b1-s1/metrics.jsonl"))
        #expect(source.filter { $0["epoch"] != nil }.allSatisfy { $0["grad_norm"] != nil })
        #expect(source.filter { $0["epoch"] != nil }.count == 40)
        let refined = try rows(dir.path + "/runs/refined/results.csv")
        #expect(refined.count == 4 && refined.allSatisfy { $0.status == .ok })
        #expect(refined.first?.schedule == "refined")
        // The refined schedule peaks at the base rate and ends at 0.
        let lrs = try jsonLines(try dir.read("runs/refined/refined-b1-s1/metrics.jsonl")).compactMap { $0["lr"].flatMap(Double.init) }
        #expect(abs((lrs.max() ?? 0) - 0.1) < 1e-3)
        #expect(lrs.last == 0)
        let preview = try runBudgetrain(["schedule", "schedule.refined { from = 'runs/source/linear-b1-s1' }", "--steps", "5"], in: dir.path)
        #expect(preview.status == 0, "\(preview.stderr)")
        let values = preview.stdout.split(separator: "\n").dropFirst().compactMap { $0.split(separator: ",").last.flatMap { Double($0) } }
        #expect(values.count == 5 && values.allSatisfy { $0 >= 0 && $0 <= 1 }, "\(preview.stdout)")
        let missing = scriptError("x = schedule.refined { from = 'runs/nothing/here' }", in: dir)
        #expect(missing?.contains("does not exist, and no experiment declared before this line trains it") == true)
        let noNorms = scriptError("x = schedule.refined { from = '\(dir.path)/runs/refined/linear-b1-s1' }", in: dir)
        #expect(noNorms?.contains("has no per-step gradient norms") == true, "\(noNorms ?? "")")
    }

    /// `rank --replay` on a hand-made grid: budget-aware picks the best, truncated does not.
    @Test func rankReplaysASearchOnTheGrid() throws {
        let dir = try TemporaryDirectory()
        var csv = ResultsTable.columns.joined(separator: ",") + ",c,message\n"
        let table: [(String, [String: [Double]])] = [
            ("aware", ["a": [0.5, 0.6, 0.7], "b": [0.6, 0.7, 0.8], "c": [0.7, 0.8, 0.85], "d": [0.8, 0.9, 0.95]]),
            ("truncated", ["a": [0.7, 0.6, 0.7], "b": [0.6, 0.7, 0.8], "c": [0.65, 0.8, 0.85], "d": [0.5, 0.9, 0.95]]),
        ]
        for (schedule, configs) in table {
            for (c, values) in configs.sorted(by: { $0.key < $1.key }) {
                for (b, a) in zip([0.25, 0.5, 1], values) {
                    for seed in [1, 2] {
                        let steps = Int(100 * b)
                        let empty = String(repeating: ",", count: ResultsTable.columns.count - 13)
                        csv += "e,\(schedule)-\(c)-\(b)-\(seed),\(schedule),\(b),\(steps),\(seed),ok,\(steps),\(b),0,0.1,0.1,\(a)\(empty),\(c),\n"
                    }
                }
            }
        }
        try dir.write("g/results.csv", csv)
        let outcome = try runBudgetrain(["rank", "g", "--budget", "0.25", "--replay", "sh", "--eta", "2"], in: dir.path)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.contains("| aware | 4 | 2 | 1.000 [1.000, 1.000] |"), "\(outcome.stdout)")
        #expect(outcome.stdout.contains("| aware | 4 | c=d | 95.00% | c=d (95.00%) | 0.00 points | 600 |"), "\(outcome.stdout)")
        #expect(outcome.stdout.contains("| truncated | 4 | c=c | 85.00% | c=d (95.00%) | 10.00 points | 600 |"), "\(outcome.stdout)")
        let missing = try runBudgetrain(["rank", "g", "--budget", "0.25", "--replay", "sh", "--eta", "3"], in: dir.path)
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("less than η = 3 apart") || missing.stderr.contains("no runs at budget"), "\(missing.stderr)")
    }

    @Test func reportTargetsGiveTimeToTargetAndProfiles() throws {
        let dir = try TemporaryDirectory()
        try dir.write("t.lua", luaPrelude + """
            experiment {
              name = "t", data = { train = blobs(400, 1), test = blobs(200, 2) }, model = mlp,
              optimizer = optim.sgd { lr = 0.1, momentum = 0.9 }, batch_size = 20, full_budget = { epochs = 2 },
              budgets = { 0.5, 1 }, schedules = { linear = schedule.linear(), constant = schedule.constant() }, seeds = { 1, 2 },
              eval_at = { 0.25, 0.5, 0.75, 1 }, targets = { 0.9 },
            }
            """)
        let outcome = try runBudgetrain(["run", "t.lua", "--quiet"], in: dir.path)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let summary = try dir.read("runs/t/summary.md")
        #expect(summary.contains("| target 90.00% | 0.5 | 1 |"), "\(summary)")
        #expect(summary.contains("## Performance profiles"))
        #expect(FileManager.default.fileExists(atPath: dir.path + "/runs/t/figures/performance-profiles.svg"))
        let report = try runBudgetrain(["report", "runs/t", "--targets", "0.5,0.95"], in: dir.path)
        #expect(report.status == 0, "\(report.stderr)")
        #expect(report.stdout.contains("| target 50.00% |") && report.stdout.contains("| target 95.00% |"))
        #expect(try dir.read("runs/t/report.html").contains("Performance profiles"))
        let bad = try runBudgetrain(["report", "runs/t", "--targets", "90"], in: dir.path)
        #expect(bad.status == 2)
    }
}
