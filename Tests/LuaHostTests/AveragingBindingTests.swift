import BudgetEngine
import BudgetExperiments
import Foundation
import LuaHost
import Testing

/// `optim.sgd_schedulefree`, `optim.adamw_schedulefree` and `average = ...` from Lua: settings,
/// errors that name the field, and what train{} and experiment{} report.
@Suite struct AveragingBindingTests {
    @Test func scheduleFreeSettings() throws {
        let host = try runLua("""
            s = optim.sgd_schedulefree { lr = 2, weight_decay = 5e-4, warmup = 20 }
            a = optim.adamw_schedulefree { betas = { 0.95, 0.99 }, warmup = 10 }
            s_settings, a_settings, a_lr, text = s.settings, a.settings, a.lr, tostring(s)
            """)
        let s = host.global("s_settings"), a = host.global("a_settings")
        #expect(s["lr"]?.doubleValue == 2 && s["momentum"]?.doubleValue == 0.9 && s["warmup"]?.doubleValue == 20)
        #expect(a["beta1"]?.doubleValue == 0.95 && a["beta2"]?.doubleValue == 0.99 && a["eps"]?.doubleValue == 1e-8)
        #expect(host.global("a_lr").doubleValue == 0.0025)
        #expect(host.global("text").stringValue?.contains("SGDScheduleFree(lr=2.0") == true)
    }

    @Test func errorsNameTheField() throws {
        let cases: [(String, String)] = [
            ("optim.sgd_schedulefree { momentum = 0.9 }", "bad field 'lr' to 'optim.sgd_schedulefree' (number expected, got nil)"),
            ("optim.sgd_schedulefree { lr = 1, warmup = 0.05 }",
             "bad field 'warmup' to 'optim.sgd_schedulefree' (a number of steps (an integer >= 0) expected, got 0.05; to warm up over a fraction of the budget, give schedule = schedule.warmup(0.05, schedule.constant()))"),
            ("optim.adamw_schedulefree { betas = { 0.9 } }", "bad field 'betas' to 'optim.adamw_schedulefree' (a pair { beta1, beta2 } expected, got 1 numbers)"),
            ("optim.adamw_schedulefree { beta1 = 0.9 }", "unknown field 'beta1' to 'optim.adamw_schedulefree'"),
            ("optim.sgd_schedulefree { lr = 1, momentum = 2 }", "sgd_schedulefree: the interpolation β must be in [0, 1], got 2.0"),
        ]
        for (code, expected) in cases {
            do {
                _ = try runLua(code, name: "o.lua")
                Issue.record("no error for \(code)")
            } catch {
                let message = userMessage(for: error)
                #expect(message.contains("o.lua:1: ") && message.contains(expected), "\(code): \(message)")
            }
        }
    }

    static func trainScript(optimizer: String, extra: String) -> String {
        luaPrelude + """
        result = train {
          data = { train = blobs(300, 1), test = blobs(100, 2) }, model = mlp, optimizer = \(optimizer),
          batch_size = 30, budget = { iterations = 40 }, seed = 2, eval_every = 0.5, \(extra)
        }
        """
    }

    @Test func trainReportsTheAveragedModel() throws {
        let host = try runScript(Self.trainScript(optimizer: "optim.sgd { lr = 0.1, momentum = 0.9 }", extra: "average = { swa = { start = 0.6 } }"),
                                 in: try TemporaryDirectory())
        let r = host.global("result")
        #expect(r["status"]?.stringValue == "ok")
        #expect((r["avg_test_accuracy"]?.doubleValue ?? 0) > 0.9)
        #expect(r["avg_test_loss"]?.doubleValue != nil && r["avg_test_loss"]?.doubleValue != r["test_loss"]?.doubleValue)
        guard case let .array(evaluations)? = r["evaluations"] else { throw TestSetupError("evaluations") }
        // At 50% the average (past 60%) has not begun.
        #expect(evaluations.map { $0["avg_test_accuracy"]?.doubleValue == nil } == [true, false])
    }

    @Test func aScheduleFreeOptimizerDefaultsToNoSchedule() throws {
        let host = try runScript(Self.trainScript(optimizer: "optim.sgd_schedulefree { lr = 0.5 }", extra: ""), in: try TemporaryDirectory())
        let r = host.global("result")
        #expect(r["final_lr"]?.doubleValue == 0.5)
        #expect((r["test_accuracy"]?.doubleValue ?? 0) > 0.9)
        #expect(r["avg_test_accuracy"] == nil)
    }

    @Test func averageErrorsNameTheField() throws {
        let dir = try TemporaryDirectory()
        let cases: [(String, String, String)] = [
            ("optim.sgd { lr = 0.1 }", "average = { ema = 0.9, swa = {} }", "bad field 'average' to 'train' (exactly one of ema, swa or lawa expected, got ema and swa)"),
            ("optim.sgd { lr = 0.1 }", "average = {}", "bad field 'average' to 'train' (exactly one of ema, swa or lawa expected, got none)"),
            ("optim.sgd { lr = 0.1 }", "average = { emma = 0.9 }", "unknown field 'average.emma' to 'train'; did you mean 'ema'?"),
            ("optim.sgd { lr = 0.1 }", "average = { swa = { start = 1.5 } }", "bad field 'average' to 'train' (swa start must be a fraction of the budget in [0, 1), got 1.5)"),
            ("optim.sgd { lr = 0.1 }", "average = { lawa = { k = 0 } }", "lawa k must be a number of snapshots in [1, 1000], got 0"),
            ("optim.sgd { lr = 0.1 }", "average = { ema = 'x' }", "bad field 'average.ema' to 'train' (number expected, got string)"),
            ("optim.adamw_schedulefree {}", "average = { ema = 0.99 }", "AdamWScheduleFree(lr=0.0025, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.0, warmup=0) already evaluates an average of its iterates"),
        ]
        for (optimizer, extra, expected) in cases {
            let message = scriptError(Self.trainScript(optimizer: optimizer, extra: extra), in: dir) ?? "no error"
            #expect(message.contains("exp.lua:\(firstLineAfterPrelude):") && message.contains(expected), "\(extra): \(message)")
        }
    }

    @Test func checkModeReportsTheAveragedFieldsUnmeasured() throws {
        var options = ScriptHost.Options()
        options.mode = .check
        let host = try runScript(Self.trainScript(optimizer: "optim.sgd { lr = 0.1 }", extra: "average = { ema = 0.9 }"),
                                 in: try TemporaryDirectory(), options: options)
        #expect(host.global("result")["avg_test_accuracy"]?.doubleValue?.isNaN == true)
    }

    /// An experiment with a weight average: results.csv's last columns, the evaluation lines of
    /// metrics.jsonl, and the second table of summary.md.
    @Test func experimentsWriteTheAveragedModelsResults() throws {
        let dir = try TemporaryDirectory()
        try dir.write("grid.lua", ExperimentCommandTests.gridScript(extra: "average = { lawa = { k = 2, every = 0.25 } },"))
        let outcome = try runBudgetrain(["run", "grid.lua", "--quiet"], in: dir.path)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let rows = try ResultsTable.read(path: dir.path + "/runs/grid/results.csv").rows
        #expect(rows.count == 8 && rows.allSatisfy { $0.avgTestAccuracy != nil && $0.avgTestLoss != nil })
        let metrics = try jsonLines(try dir.read("runs/grid/linear-b1-s1/metrics.jsonl"))
        #expect(metrics.last?["avg_test_accuracy"] != nil)
        let summary = try dir.read("runs/grid/summary.md")
        #expect(summary.contains("Test accuracy (%) of the averaged model"))
        let config = try dir.read("runs/grid/config.json")
        #expect(config.contains("\"average\" : \"lawa(k=2, every=0.25)\""))
    }
}
