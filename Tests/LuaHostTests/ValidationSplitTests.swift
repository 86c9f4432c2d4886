import BudgetEngine
import BudgetExperiments
import Foundation
import LuaHost
import Testing

/// `data = { train =, validation =, test = }`: runs measure the validation set at every
/// evaluation, results.csv and metrics.jsonl carry it, and the summary picks each schedule's
/// rate on it.
@Suite struct ValidationSplitTests {
    @Test func trainReportsValidationAtEveryEvaluation() throws {
        let dir = try TemporaryDirectory()
        let host = try runScript(luaPrelude + """
            local train_part, held_out = blobs(400, 1):split(0.75, 1)
            r = train {
              data = { train = train_part, validation = held_out, test = blobs(100, 2) },
              model = mlp, optimizer = optim.sgd { lr = 0.1, momentum = 0.9 }, batch_size = 20,
              budget = { epochs = 2 }, seed = 1, eval_every = 0.5, log = "\(dir.path)/log.jsonl",
            }
            plain = train { data = { train = train_part, test = blobs(100, 2) }, model = mlp,
                            optimizer = optim.sgd { lr = 0.1, momentum = 0.9 }, batch_size = 20, budget = { epochs = 2 }, seed = 1 }
            """, in: dir)
        let r = host.global("r"), plain = host.global("plain")
        #expect((r["val_accuracy"]?.doubleValue ?? 0) >= 0.9)
        #expect(r["val_loss"]?.doubleValue != nil)
        guard case let .array(evaluations)? = r["evaluations"] else { throw TestSetupError("evaluations") }
        #expect(evaluations.count == 2)
        #expect(evaluations.allSatisfy { $0["val_accuracy"]?.doubleValue != nil && $0["val_loss"]?.doubleValue != nil })
        #expect(evaluations.last?["val_accuracy"]?.doubleValue == r["val_accuracy"]?.doubleValue)
        // Measuring the validation set changes nothing about training.
        #expect(r["test_loss"]?.doubleValue == plain["test_loss"]?.doubleValue)
        #expect(plain["val_accuracy"]?.doubleValue == nil)
        let log = try jsonLines(try String(contentsOfFile: dir.path + "/log.jsonl", encoding: .utf8)).filter { $0["event"] != nil }
        #expect(log.count == 2)
        #expect(log.allSatisfy { $0["val_loss"] != nil && $0["val_accuracy"] != nil })
        #expect(log.last?["val_accuracy"].flatMap { Double($0) } == r["val_accuracy"]?.doubleValue)
    }

    @Test func aBadValidationSetIsNamed() throws {
        let dir = try TemporaryDirectory()
        func error(_ data: String) -> String? {
            scriptError(luaPrelude + """
                local b, t = blobs(40, 1), blobs(20, 2)
                local wide = data.from_table { inputs = { { 1, 2, 3 } }, labels = { 0 } }
                train { data = \(data), model = mlp, optimizer = optim.sgd { lr = 0.1 }, budget = { iterations = 2 } }
                """, in: dir)
        }
        #expect(error("{ train = b, validation = t, test = t }")?.contains("the validation set is the test set") == true)
        #expect(error("{ train = b, validation = wide }")?.contains("validation examples are [3] but training examples are [2]") == true)
        #expect(error("{ train = b, valdiation = t }")?.contains("did you mean 'validation'") == true)
    }

    static func sweepScript(validation: Bool) -> String {
        luaPrelude + """
        local train_part, held_out = blobs(300, 1):split(0.8, 1)
        experiment {
          name = "rates",
          data = { train = train_part, \(validation ? "validation = held_out," : "") test = blobs(100, 2) },
          model = mlp, optimizer = optim.sgd { lr = 0.1, momentum = 0.9 }, batch_size = 20,
          full_budget = { epochs = 1 }, budgets = { 0.5, 1 },
          schedules = { { "linear", schedule.linear() }, { "constant", schedule.constant() } },
          seeds = { 1, 2 }, vary = { lr = { 0.001, 0.1 } },
        }
        """
    }

    @Test func sweepPicksEachScheduleRateOnValidation() throws {
        let dir = try TemporaryDirectory()
        try dir.write("exp.lua", Self.sweepScript(validation: true))
        let outcome = try runBudgetrain(["run", "exp.lua", "--quiet", "--threads", "1"], in: dir.path)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let csv = try dir.read("runs/rates/results.csv")
        #expect(csv.hasPrefix(ResultsTable.columns.joined(separator: ",") + ",lr,message\n"))
        let rows = try ResultsTable.read(path: dir.path + "/runs/rates/results.csv").rows
        #expect(rows.count == 16)
        #expect(rows.allSatisfy { $0.valAccuracy != nil && $0.valLoss != nil })
        let table = try #require(BestRateTable(experiment: "rates", rows: rows))
        for schedule in ["linear", "constant"] {
            for budget in [0.5, 1.0] {
                let choice = try #require(table.choices[schedule]?[budget])
                // The chosen rate is the one of higher mean validation accuracy.
                let cell = rows.filter { $0.schedule == schedule && $0.budget == budget }
                func meanValidation(_ rate: Double) -> Double {
                    let values = cell.filter { Double($0.extras["lr"] ?? "") == rate }.compactMap(\.valAccuracy)
                    return values.reduce(0, +) / Double(values.count)
                }
                #expect(meanValidation(choice.rate) >= meanValidation(choice.rate == 0.1 ? 0.001 : 0.1))
            }
        }
        let summary = try dir.read("runs/rates/summary.md")
        #expect(summary.contains("### Each schedule at its best learning rate"))
        #expect(summary.contains("| linear |") && summary.contains("(lr 0.1 †)"), "\(summary)")
        #expect(try dir.read("runs/rates/report.html").contains("Each schedule at its best learning rate"))
        for budget in ["0.5", "1"] {
            #expect(FileManager.default.fileExists(atPath: dir.path + "/runs/rates/figures/rates-accuracy-vs-lr-budget-\(budget).svg"))
        }
        let evaluation = try jsonLines(try dir.read("runs/rates/linear-b1-s1-lr=0.1/metrics.jsonl")).filter { $0["event"] != nil }
        #expect(evaluation.last?["val_accuracy"] != nil)
        let config = try JSONSerialization.jsonObject(with: Data(try dir.read("runs/rates/config.json").utf8)) as? [String: Any]
        #expect((config?["validation_data"] as? [String: Any])?["examples"] as? Int == 60)
    }

    @Test func withoutValidationTheSummarySaysItNeedsOne() throws {
        let dir = try TemporaryDirectory()
        try dir.write("exp.lua", Self.sweepScript(validation: false))
        let outcome = try runBudgetrain(["run", "exp.lua", "--quiet", "--threads", "1"], in: dir.path)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let summary = try dir.read("runs/rates/summary.md")
        #expect(summary.contains("This table needs a validation split"))
        #expect(!summary.contains("(lr 0.1"))
        let rows = try ResultsTable.read(path: dir.path + "/runs/rates/results.csv").rows
        #expect(rows.allSatisfy { $0.valAccuracy == nil })
    }
}
