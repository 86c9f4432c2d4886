import BudgetEngine
import BudgetExperiments
import Foundation
import LuaHost
import Testing

/// `experiment{}` grids through the built binary: the results.csv contract, resume after a
/// kill, `--jobs 2` against `--jobs 1`, divergence, and the report, rank and schedule commands.
@Suite struct ExperimentCommandTests {
    /// A grid of 2 schedules × 2 budgets × 2 seeds on blobs; `delay` makes each step slow
    /// enough (a busy Lua schedule) for a kill to land mid-sweep.
    static func gridScript(name: String = "grid", delay: Int = 0, extra: String = "") -> String {
        luaPrelude + """
        local function slow_linear(p)
          local x = 0
          for i = 1, \(delay) do x = x + i end
          return 1 - p
        end
        experiment {
          name = "\(name)",
          data = { train = blobs(400, 1), test = blobs(200, 2) },
          model = mlp,
          optimizer = optim.sgd { lr = 0.1, momentum = 0.9 },
          batch_size = 20,
          full_budget = { epochs = 2 },
          budgets = { 0.5, 1 },
          schedules = { linear = slow_linear, constant = schedule.constant() },
          seeds = { 1, 2 },
          probes = { grad_norm = { 1.0 } },
          \(extra)
        }
        """
    }

    func rows(_ path: String) throws -> [ResultRow] { try ResultsTable.read(path: path).rows }

    @Test func resultsContract() throws {
        let dir = try TemporaryDirectory()
        try dir.write("grid.lua", Self.gridScript())
        let outcome = try runBudgetrain(["run", "grid.lua", "--quiet"], in: dir.path)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let text = try dir.read("runs/grid/results.csv")
        #expect(text.hasPrefix("experiment,run,schedule,budget,budget_steps,seed,status,steps,seconds,final_lr,train_loss,test_loss,test_accuracy,grad_norm,flops,val_loss,val_accuracy,avg_test_accuracy,avg_test_loss,message\n"))
        let results = try rows(dir.path + "/runs/grid/results.csv")
        #expect(results.count == 8)
        #expect(Set(results.map(\.run)).count == 8)
        for r in results {
            #expect(r.status == .ok)
            #expect(r.steps == (r.budget == 1 ? 40 : 20))
            #expect(r.testAccuracy != nil && r.gradNorm != nil)
            #expect(FileManager.default.fileExists(atPath: dir.path + "/runs/grid/\(r.run)/metrics.jsonl"))
        }
        // Linear decay ends at base_lr / budget; constant stays at base_lr.
        let linear = try #require(results.first { $0.run == "linear-b1-s1" })
        #expect(abs(linear.finalLR - 0.1 / 40) < 1e-9)
        #expect(results.first { $0.run == "constant-b1-s1" }?.finalLR == 0.1)
        for file in ["config.lua", "config.json", "summary.md", "report.html"] {
            #expect(FileManager.default.fileExists(atPath: dir.path + "/runs/grid/" + file), "\(file)")
        }
        let config = try JSONSerialization.jsonObject(with: Data(try dir.read("runs/grid/config.json").utf8)) as? [String: Any]
        #expect(config?["seeds"] as? [Int] == [1, 2])
        #expect(outcome.stdout.contains("| linear |"))
        // A second run without --resume refuses to mix sweeps.
        let again = try runBudgetrain(["run", "grid.lua", "--quiet"], in: dir.path)
        #expect(again.status == 2)
        #expect(again.stderr.contains("--resume"))
    }

    @Test func resumeAfterKillLosesAndDoublesNothing() throws {
        let dir = try TemporaryDirectory()
        try dir.write("grid.lua", Self.gridScript(delay: 40000))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try budgetrainExecutable())
        process.arguments = ["run", "grid.lua", "--quiet"]
        process.currentDirectoryURL = URL(fileURLWithPath: dir.path)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Kill it once some, but not all, runs are recorded.
        let results = dir.path + "/runs/grid/results.csv"
        let deadline = Date().addingTimeInterval(60)
        var recorded = 0
        while Date() < deadline {
            recorded = (try? rows(results).count) ?? 0
            if recorded >= 2 { break }
            usleep(5_000)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let beforeResume = try rows(results).count
        try #require(beforeResume >= 2 && beforeResume < 8, "the kill should land mid-sweep (\(beforeResume) rows)")

        let resumed = try runBudgetrain(["run", "grid.lua", "--quiet", "--resume"], in: dir.path)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let after = try rows(results)
        #expect(after.count == 8)
        #expect(Set(after.map(\.run)).count == 8)
        #expect(after.allSatisfy { $0.status == .ok })
    }

    /// Each run trains with `threads / jobs` threads; at equal threads per run the results are
    /// bit for bit the same. (OpenBLAS blocks a product differently for other thread counts,
    /// which changes results in the last bits; config.json records the count.)
    @Test func twoJobsGiveTheResultsOfOne() throws {
        let dir = try TemporaryDirectory()
        try dir.write("grid.lua", Self.gridScript())
        let one = try runBudgetrain(["run", "grid.lua", "--quiet", "--jobs", "1", "--threads", "1", "--out", "one"], in: dir.path)
        let two = try runBudgetrain(["run", "grid.lua", "--quiet", "--jobs", "2", "--threads", "2", "--out", "two"], in: dir.path)
        #expect(one.status == 0 && two.status == 0, "\(one.stderr)\(two.stderr)")
        func comparable(_ r: ResultRow) -> String {
            [r.run, r.status.rawValue, "\(r.steps)", "\(r.finalLR)", "\(r.trainLoss ?? -1)", "\(r.testLoss ?? -1)",
             "\(r.testAccuracy ?? -1)", "\(r.gradNorm ?? -1)"].joined(separator: ",")
        }
        let a = try rows(dir.path + "/one/grid/results.csv").map(comparable).sorted()
        let b = try rows(dir.path + "/two/grid/results.csv").map(comparable).sorted()
        #expect(a.count == 8)
        #expect(a == b)
        // The metrics of a run are the same too (timings aside, they hold none).
        #expect(try dir.read("one/grid/linear-b1-s2/metrics.jsonl") == dir.read("two/grid/linear-b1-s2/metrics.jsonl"))
    }

    @Test func divergingCellIsMarkedAndTheSweepFinishes() throws {
        let dir = try TemporaryDirectory()
        try dir.write("diverge.lua", luaPrelude + """
            experiment {
              name = "diverge",
              data = { train = blobs(200, 1), test = blobs(100, 2) },
              model = mlp,
              optimizer = optim.sgd { lr = 0.1 },
              batch_size = 20,
              full_budget = { iterations = 30 },
              budgets = { 1 },
              schedules = { { "huge", function(p) return 1e12 end }, { "linear", schedule.linear() } },
              seeds = { 1 },
            }
            """)
        let outcome = try runBudgetrain(["run", "diverge.lua", "--quiet"], in: dir.path)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let results = try rows(dir.path + "/runs/diverge/results.csv")
        #expect(results.map(\.run) == ["huge-b1-s1", "linear-b1-s1"])
        #expect(results.map(\.status) == [.diverged, .ok])
        #expect(results[0].extras["message"]?.contains("became") == true)
        #expect(try dir.read("runs/diverge/summary.md").contains("diverged"))
    }

    @Test func failingScheduleFailsItsRunsAndTheExitCodeSaysSo() throws {
        let dir = try TemporaryDirectory()
        try dir.write("bad.lua", luaPrelude + """
            experiment {
              name = "bad",
              data = { train = blobs(200, 1) },
              model = mlp,
              optimizer = optim.sgd { lr = 0.1 },
              full_budget = { iterations = 20 },
              -- NaN at step 13 only: the pre-flight check (steps 0, 5, 10, 15, 19) passes, the run fails.
              schedules = { late_nan = function(p, ctx) if ctx.step == 13 then return 0/0 end return 1 end, fine = schedule.linear() },
              seeds = { 1 },
            }
            """)
        let outcome = try runBudgetrain(["run", "bad.lua", "--quiet"], in: dir.path)
        #expect(outcome.status == 2)
        #expect(outcome.stderr.contains("1 of 2 runs failed"))
        #expect(outcome.stderr.contains("step 13"))
        let results = try rows(dir.path + "/runs/bad/results.csv")
        #expect(results.count == 2)
        #expect(results.first { $0.schedule == "fine" }?.status == .ok)
        #expect(results.first { $0.schedule == "late_nan" }?.status == .failed)
    }

    @Test func scheduleFailingTheCheckStopsTheSweepBeforeTraining() throws {
        let dir = try TemporaryDirectory()
        try dir.write("early.lua", luaPrelude + """
            experiment {
              name = "early", data = { train = blobs(100, 1) }, model = mlp, optimizer = optim.sgd { lr = 0.1 },
              full_budget = { iterations = 20 }, schedules = { negative = function(p) return -1 end }, seeds = { 1 },
            }
            """)
        let outcome = try runBudgetrain(["run", "early.lua", "--quiet"], in: dir.path)
        #expect(outcome.status == 2)
        #expect(outcome.stderr.contains("experiment 'early', schedule 'negative'"))
        #expect(outcome.stderr.contains("early.lua:"))
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/runs/early/results.csv"))
    }

    @Test func declarationErrorsNameTheField() throws {
        let dir = try TemporaryDirectory()
        let base = """
            experiment { name = "e", data = { train = blobs(50, 1) }, model = mlp, optimizer = optim.sgd { lr = 0.1 },
              full_budget = { iterations = 10 }, schedules = { linear = schedule.linear() }, %@ }
            """
        func message(_ extra: String) -> String? {
            scriptError(luaPrelude + base.replacingOccurrences(of: "%@", with: extra), in: dir)
        }
        #expect(message("budget = { 0.5 }")?.contains("unknown field 'budget' to 'experiment'; did you mean 'budgets'?") == true)
        #expect(message("budgets = { 0 }")?.contains("bad field 'budgets' to 'experiment' (fractions must be positive, got 0.0 at index 1)") == true)
        #expect(message("budgets = { { iterations = 5, epochs = 1 } }")?.contains("exactly one of epochs, iterations, seconds, examples or flops") == true)
        #expect(message("seeds = { 1.5 }")?.contains("bad field 'seeds'") == true)
        // Absurd sizes are errors, not overflowing step counts.
        #expect(message("budgets = { 1e300 }")?.contains("budget fractions must be in (0, 1000], got 1e+300") == true)
        let huge = luaPrelude + "train { data = blobs(20, 1), model = mlp, optimizer = optim.sgd { lr = 0.1 }, budget = { epochs = 1e30 } }"
        #expect(scriptError(huge, in: dir)?.contains("epochs must be a positive number below 1e9") == true)
        #expect(message("eval_at = { 2 }")?.contains("progress points must be in (0, 1]") == true)
        #expect(message("vary = { seed = { 1, 2 } }")?.contains("already a column") == true)
        #expect(message("seeds = { 1, 1 }")?.contains("appears twice") == true)
        let twice = luaPrelude + base.replacingOccurrences(of: "%@", with: "") + "\n" + base.replacingOccurrences(of: "%@", with: "")
        #expect(scriptError(twice, in: dir)?.contains("an experiment named 'e' is already declared") == true)
    }

    @Test func variedLearningRateAndFactoryFields() throws {
        let dir = try TemporaryDirectory()
        try dir.write("vary.lua", luaPrelude + """
            experiment {
              name = "vary", data = { train = blobs(100, 1) },
              model = function(cfg) return nn.Sequential { nn.Linear(2, cfg.width), nn.ReLU(), nn.Linear(cfg.width, 4) } end,
              optimizer = optim.sgd { lr = 0.1 }, batch_size = 10,
              full_budget = { iterations = 10 }, schedules = { constant = schedule.constant() }, seeds = { 1 },
              vary = { lr = { 0.05, 0.2 }, width = { 3, 5 } },
            }
            """)
        let outcome = try runBudgetrain(["run", "vary.lua", "--quiet"], in: dir.path)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let text = try dir.read("runs/vary/results.csv")
        #expect(text.hasPrefix(ResultsTable.columns.joined(separator: ",") + ",lr,width,message\n"))
        let results = try rows(dir.path + "/runs/vary/results.csv")
        #expect(results.count == 4)
        for r in results {
            // A constant schedule trains at the varied base rate throughout.
            #expect(r.finalLR == Double(r.extras["lr"] ?? ""))
        }
        #expect(Set(results.map(\.run)) == ["constant-b1-s1-lr=0.05-width=3", "constant-b1-s1-lr=0.05-width=5",
                                             "constant-b1-s1-lr=0.2-width=3", "constant-b1-s1-lr=0.2-width=5"])
        // The summary keeps configurations apart.
        #expect(try dir.read("runs/vary/summary.md").contains("| constant lr=0.2 width=5 |"))
    }

    @Test func rankCommandOnAHandMadeResultsFile() throws {
        let dir = try TemporaryDirectory()
        var csv = ResultsTable.columns.joined(separator: ",") + "\n"
        // Budget 0.25 ranks a > b > c; budget 1 ranks a > c > b: τ = 1/3, ρ = 0.5.
        for (s, b, acc) in [("a", 0.25, 0.9), ("b", 0.25, 0.8), ("c", 0.25, 0.7), ("a", 1, 0.95), ("b", 1, 0.85), ("c", 1, 0.9)] {
            let cells = ["e", "\(s)-\(b)", s, "\(b)", "10", "1", "ok", "10", "1", "0", "0.1", "0.1", "\(acc)"]
            // Empty cells for the columns after test_accuracy (grad_norm and any later ones).
            csv += (cells + Array(repeating: "", count: ResultsTable.columns.count - cells.count)).joined(separator: ",") + "\n"
        }
        try dir.write("r/results.csv", csv)
        let outcome = try runBudgetrain(["rank", "r", "--budget", "0.25", "--reference", "1"], in: dir.path)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.contains("kendall_tau: 0.3333"))
        #expect(outcome.stdout.contains("spearman_rho: 0.5000"))
        let missing = try runBudgetrain(["rank", "r", "--budget", "0.5"], in: dir.path)
        #expect(missing.status == 2)
    }

    @Test func scheduleCommandPrintsEveryStep() throws {
        let dir = try TemporaryDirectory()
        let csv = try runBudgetrain(["schedule", "schedule.step { milestones = { 0.5 }, gamma = 0.1 }", "--steps", "4"], in: dir.path)
        #expect(csv.status == 0)
        #expect(csv.stdout == "step,progress,multiplier\n0,0,1\n1,0.25,1\n2,0.5,0.1\n3,0.75,0.1\n")
        let truncated = try runBudgetrain(["schedule", "schedule.truncated(schedule.step{})", "--steps", "10", "--full-steps", "100"], in: dir.path)
        #expect(truncated.stdout.split(separator: "\n").dropFirst().allSatisfy { $0.hasSuffix(",1") })
        let svg = try runBudgetrain(["schedule", "function(p) return (1 - p)^2 end", "--format", "svg"], in: dir.path)
        #expect(svg.stdout.hasPrefix("<svg"))
        let negative = try runBudgetrain(["schedule", "function(p) return p - 0.5 end", "--steps", "10"], in: dir.path)
        #expect(negative.status == 2)
        #expect(negative.stderr.contains("step 0"))
    }
}
