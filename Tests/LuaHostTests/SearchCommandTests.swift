import BudgetEngine
import BudgetExperiments
import Foundation
import LuaHost
import Testing

/// `search{}` through the built binary: rungs and survivors, budget-aware against truncated,
/// continuations, Hyperband, `--jobs`, `--resume`, `check`, and the errors of a declaration.
@Suite struct SearchCommandTests {
    /// Nine configurations (lr × width) on blobs, rungs at 1/9, 1/3 and 1 of 3 epochs;
    /// `with { ... }` changes fields of the common declaration (`false` removes one).
    static func script(_ searches: String) -> String {
        luaPrelude + """
        local common = {
          data = { train = blobs(400, 1), test = blobs(200, 2) },
          model = function(cfg) return nn.Sequential { nn.Linear(2, cfg.width), nn.ReLU(), nn.Linear(cfg.width, 4) } end,
          optimizer = optim.sgd { lr = 0.1, momentum = 0.9 },
          batch_size = 20,
          vary = { lr = { 0.01, 0.1, 1 }, width = { 2, 8, 16 } },
          max_budget = { epochs = 3 },
          min_budget = 1 / 9,
          seeds = { 1 },
        }
        local function with(extra)
          local t = {}
          for k, v in pairs(common) do t[k] = v end
          for k, v in pairs(extra) do if v == false then t[k] = nil else t[k] = v end end
          return t
        end
        \(searches)
        """
    }

    func rows(_ path: String) throws -> [ResultRow] { try ResultsTable.read(path: path).rows }

    func configuration(_ r: ResultRow) -> String { "lr=\(r.extras["lr"] ?? "")-width=\(r.extras["width"] ?? "")" }

    @Test func successiveHalvingTrainsTheBestThirdOfEachRung() throws {
        let dir = try TemporaryDirectory()
        try dir.write("s.lua", Self.script("search(with { name = \"sh\" })"))
        let outcome = try runBudgetrain(["run", "s.lua", "--quiet"], in: dir.path)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let results = try rows(dir.path + "/runs/sh/results.csv")
        #expect(results.map { $0.extras["rung"] ?? "" }.filter { $0 == "0" }.count == 9)
        #expect(results.count == 9 + 3 + 1)
        #expect(results.allSatisfy { $0.status == .ok && $0.schedule == "linear" && $0.flops != nil })
        for rung in 0..<2 {
            let here = results.filter { $0.extras["rung"] == String(rung) }
            let next = Set(results.filter { $0.extras["rung"] == String(rung + 1) }.map(configuration))
            // The survivors are the best by test accuracy, ties kept in the grid's order.
            let ranked = here.enumerated().sorted { a, b in
                (a.element.testAccuracy ?? 0) != (b.element.testAccuracy ?? 0) ? (a.element.testAccuracy ?? 0) > (b.element.testAccuracy ?? 0) : a.offset < b.offset
            }
            #expect(Set(ranked.prefix(next.count).map { configuration($0.element) }) == next)
            #expect(next.count == here.count / 3)
        }
        // Budget-aware: each rung's runs plan linear decay for their own budget and end near 0.
        let steps = results.map { $0.budgetSteps ?? 0 }
        #expect(Set(steps) == [7, 20, 60])
        for r in results { #expect(abs(r.finalLR - Double(r.extras["lr"] ?? "0")! / Double(r.steps)) < 1e-9) }
        let summary = try dir.read("runs/sh/summary.md")
        #expect(summary.contains("### Search: successive halving, η = 3"))
        #expect(summary.contains("Winner: **"))
        #expect(summary.contains("the full grid (9 configurations × 1 seed(s) at the maximum budget) ≈ 540 steps"))
        let config = try JSONSerialization.jsonObject(with: Data(try dir.read("runs/sh/config.json").utf8)) as? [String: Any]
        #expect((config?["search"] as? [String: Any])?["eta"] as? Int == 3)
    }

    /// A truncated schedule gives the same runs whether a survivor continues or starts again,
    /// so the continued search matches the one from scratch and spends less.
    @Test func truncatedSearchContinuedMatchesItFromScratch() throws {
        let dir = try TemporaryDirectory()
        try dir.write("s.lua", Self.script("""
            search(with { name = "scratch", truncated = true })
            search(with { name = "continued", truncated = true, continue = true })
            """))
        let outcome = try runBudgetrain(["run", "s.lua", "--quiet"], in: dir.path)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let scratch = try rows(dir.path + "/runs/scratch/results.csv"), continued = try rows(dir.path + "/runs/continued/results.csv")
        #expect(scratch.map(\.run) == continued.map(\.run))
        #expect(scratch.map(\.testLoss) == continued.map(\.testLoss))
        #expect(scratch.map(\.schedule).allSatisfy { $0 == "truncated(linear)" })
        // Truncated at 1/9 of the budget: the rate has hardly moved from its base.
        #expect(scratch.filter { $0.extras["rung"] == "0" }.allSatisfy { $0.finalLR > 0.8 * Double($0.extras["lr"] ?? "0")! })
        #expect(try dir.read("runs/scratch/summary.md").contains("Compute: 183 steps"))
        // Continued: 9 × 7 + 3 × (20 − 7) + 1 × (60 − 20).
        #expect(try dir.read("runs/continued/summary.md").contains("Compute: 142 steps"))
        // No state is left behind once the search is done.
        let leftovers = try FileManager.default.subpathsOfDirectory(atPath: dir.path + "/runs/continued").filter { $0.hasSuffix("final.safetensors") }
        #expect(leftovers.isEmpty)
    }

    /// Budget-aware continuation: the rung-1 run picks up at step 7 with the schedule
    /// re-planned for 20 steps.
    @Test func budgetAwareContinuationReplansFromThePreviousRung() throws {
        let dir = try TemporaryDirectory()
        try dir.write("s.lua", Self.script("search(with { name = \"c\", continue = true })"))
        let outcome = try runBudgetrain(["run", "s.lua", "--quiet"], in: dir.path)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let results = try rows(dir.path + "/runs/c/results.csv")
        let survivor = try #require(results.first { $0.extras["rung"] == "1" })
        let lines = try jsonLines(try dir.read("runs/c/\(survivor.run)/metrics.jsonl"))
        #expect(lines.first?["step"] == "7")
        let lr = try #require(Double(survivor.extras["lr"] ?? ""))
        #expect(abs(Double(lines.first?["lr"] ?? "")! - lr * (1 - 7.0 / 20)) < 1e-12)
        #expect(survivor.steps == 20)
    }

    @Test func hyperbandRunsEveryBracket() throws {
        let dir = try TemporaryDirectory()
        try dir.write("s.lua", Self.script("search(with { name = \"hb\", hyperband = true, seed = 3 })"))
        let outcome = try runBudgetrain(["run", "s.lua", "--quiet"], in: dir.path)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let results = try rows(dir.path + "/runs/hb/results.csv")
        // Brackets s = 2, 1, 0 start 9, min(⌈3/2 · 3⌉, 9) = 5 and 3 configurations.
        #expect(results.filter { $0.extras["rung"] == "0" }.map { $0.extras["bracket"] ?? "" } == Array(repeating: "2", count: 9) + Array(repeating: "1", count: 5) + Array(repeating: "0", count: 3))
        #expect(try dir.read("runs/hb/summary.md").contains("### Search: Hyperband"))
    }

    /// Two jobs give the runs of one (continuations read their predecessors' states in the
    /// workers too), and a resumed search trains only what has no record.
    @Test func jobsAndResume() throws {
        let dir = try TemporaryDirectory()
        try dir.write("s.lua", Self.script("search(with { name = \"c\", continue = true })"))
        let one = try runBudgetrain(["run", "s.lua", "--quiet", "--threads", "1", "--out", "one"], in: dir.path)
        let two = try runBudgetrain(["run", "s.lua", "--quiet", "--jobs", "2", "--threads", "2", "--out", "two"], in: dir.path)
        #expect(one.status == 0 && two.status == 0, "\(one.stderr)\(two.stderr)")
        func comparable(_ r: ResultRow) -> String { "\(r.run) \(r.steps) \(r.testLoss ?? -1) \(r.finalLR)" }
        let a = try rows(dir.path + "/one/c/results.csv").map(comparable)
        #expect(a.count == 13)
        #expect(a == (try rows(dir.path + "/two/c/results.csv").map(comparable)))

        // A resumed search retrains what has no record (here a first-rung run that did not
        // survive), chooses the same survivors again and keeps every other run.
        let before = try rows(dir.path + "/one/c/results.csv")
        let survivors = Set(before.filter { $0.extras["rung"] == "1" }.map(configuration))
        let dropped = try #require(before.first { $0.extras["rung"] == "0" && !survivors.contains(configuration($0)) })
        try FileManager.default.removeItem(atPath: dir.path + "/one/c/\(dropped.run)/result.json")
        let resumed = try runBudgetrain(["run", "s.lua", "--resume", "--threads", "1", "--out", "one"], in: dir.path)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("resuming, 8 of 9 runs already finished"), "\(resumed.stderr)")
        #expect(try rows(dir.path + "/one/c/results.csv").map(comparable) == a)

        // A later rung without its predecessor's state cannot continue (the states go once
        // the next rung has trained): the run fails and says why.
        let last = try #require(before.last)
        try FileManager.default.removeItem(atPath: dir.path + "/one/c/\(last.run)/result.json")
        let again = try runBudgetrain(["run", "s.lua", "--resume", "--quiet", "--threads", "1", "--out", "one"], in: dir.path)
        #expect(again.status == 2)
        #expect(again.stderr.contains("final state"), "\(again.stderr)")
        let fresh = try runBudgetrain(["run", "s.lua", "--quiet", "--threads", "1", "--out", "one"], in: dir.path)
        #expect(fresh.status == 2)
        #expect(fresh.stderr.contains("--resume"))
    }

    @Test func checkBuildsEveryConfiguration() throws {
        let dir = try TemporaryDirectory()
        try dir.write("s.lua", Self.script("search(with { name = \"sh\" })"))
        let outcome = try runBudgetrain(["check", "s.lua"], in: dir.path)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.contains("checked search sh, 9 configurations, 1 bracket(s)"))
        try dir.write("bad.lua", Self.script("search(with { name = \"bad\", vary = { width = { 2, 0 } } })"))
        let bad = try runBudgetrain(["check", "bad.lua"], in: dir.path)
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("configuration width=0"), "\(bad.stderr)")
    }

    @Test func declarationErrorsNameTheField() throws {
        let dir = try TemporaryDirectory()
        func message(_ extra: String) -> String? {
            scriptError(Self.script("search(with { name = \"e\", \(extra) })"), in: dir)
        }
        #expect(message("min_budget = 0.5")?.contains("bad field 'min_budget' to 'search' (the minimum budget must be at most max_budget / eta (3)") == true)
        #expect(message("configurations = { { lr = 0.1 } }")?.contains("exactly one of vary (a grid), configurations (a list) or sample") == true)
        #expect(message("metric = \"accuracy\"")?.contains("one of test_accuracy, test_loss, train_loss expected") == true)
        #expect(message("max_budget = { seconds = 10 }")?.contains("not seconds") == true)
        #expect(message("min_budget = { iterations = 10 }")?.contains("give it in the unit of max_budget") == true)
        #expect(message("eta = 1")?.contains("an integer >= 2 expected") == true)
        #expect(message("vary = false, sample = { count = 5, width = { 2, 4 } }")?.contains("only 2 distinct configurations") == true)
        #expect(message("vary = false, configurations = { { lr = 0.1 }, { width = 2 } }")?.contains("every configuration needs the same fields") == true)
        #expect(message("vary = { rung = { 1, 2 } }")?.contains("'rung' is already a column") == true)
    }

    /// Random configurations: drawn from the seed, the same every time, named by their values.
    @Test func sampledConfigurationsAreSeeded() throws {
        let dir = try TemporaryDirectory()
        let source = Self.script("""
            search(with { name = "r", vary = false, seed = 5,
                          sample = { count = 6, lr = { log = { 0.01, 1 } }, width = { uniform = { 2, 16 }, integer = true } } })
            """)
        func runs() throws -> [String] {
            let host = try runScript(source, in: dir)
            return try #require(host.declarations.first as? SearchDeclaration).plan.cells.map(\.run)
        }
        let first = try runs()
        #expect(first == (try runs()))
        // The plan holds every configuration at every rung (the search trains 6, 2 and 1).
        #expect(first.count == 6 * 3)
        let name = try #require(first.first)
        #expect(name.hasPrefix("h2r0-lr=") && name.contains("-width="), "\(name)")
    }
}
