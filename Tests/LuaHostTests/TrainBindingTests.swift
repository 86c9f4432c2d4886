import BudgetEngine
import Foundation
import LuaHost
import Testing

@Suite struct TrainBindingTests {
    @Test func trainsAndReturnsTheResultTable() throws {
        let dir = try TemporaryDirectory()
        let host = try runScript(luaPrelude + """
            result = train {
              data = { train = blobs(400, 1), test = blobs(200, 2) },
              model = mlp,
              optimizer = optim.sgd { lr = 0.1, momentum = 0.9 },
              batch_size = 32, budget = { epochs = 3 }, schedule = schedule.linear(), seed = 5,
              eval_every = 0.5,
            }
            """, in: dir)
        let r = host.global("result")
        let steps = 3 * Int((400.0 / 32).rounded(.up))
        #expect(r["status"]?.stringValue == "ok")
        #expect(r["steps"]?.intValue == steps)
        #expect((r["test_accuracy"]?.doubleValue ?? 0) >= 0.95)
        #expect(r["test_loss"]?.doubleValue != nil)
        #expect(r["train_loss"]?.doubleValue != nil)
        #expect((r["seconds"]?.doubleValue ?? -1) >= 0)
        #expect(r["seed"]?.intValue == 5)
        // Linear decay: the last step trains at lr · (1 - (steps-1)/steps) = lr / steps.
        #expect(abs((r["final_lr"]?.doubleValue ?? 0) - 0.1 / Double(steps)) < 1e-12)
        // eval_every = 0.5: evaluations at half the budget and at the end.
        guard case let .array(evaluations)? = r["evaluations"] else { throw TestSetupError("evaluations") }
        // The first evaluation comes after the first step that reaches half the budget.
        let half = Double((steps + 1) / 2) / Double(steps)
        #expect(evaluations.map { $0["progress"]?.doubleValue } == [half, 1.0])
        #expect(host.completedRuns == 1)
    }

    @Test func theSameSeedGivesTheSameResult() throws {
        let dir = try TemporaryDirectory()
        let host = try runScript(luaPrelude + """
            local train_set, test_set = blobs(200, 1), blobs(100, 2)
            local function run(seed)
              return train { data = { train = train_set, test = test_set }, model = mlp, seed = seed,
                             optimizer = optim.sgd { lr = 0.05 }, batch_size = 20, budget = { iterations = 25 } }
            end
            a, b, c = run(3), run(3), run(4)
            """, in: dir)
        let a = host.global("a"), b = host.global("b"), c = host.global("c")
        #expect(a["train_loss"]?.doubleValue == b["train_loss"]?.doubleValue)
        #expect(a["test_loss"]?.doubleValue == b["test_loss"]?.doubleValue)
        #expect(a["train_loss"]?.doubleValue != c["train_loss"]?.doubleValue)
    }

    @Test func aFactoryGivesFreshWeightsAModuleKeepsTraining() throws {
        let dir = try TemporaryDirectory()
        let host = try runScript(luaPrelude + """
            local d = { train = blobs(200, 1), test = blobs(100, 2) }
            local function run(model)
              return train { data = d, model = model, seed = 1, optimizer = optim.sgd { lr = 0.05 },
                             batch_size = 20, budget = { iterations = 10 } }
            end
            f1, f2 = run(mlp), run(mlp)
            local module = mlp()
            m1, m2 = run(module), run(module)
            """, in: dir)
        #expect(host.global("f1")["test_loss"]?.doubleValue == host.global("f2")["test_loss"]?.doubleValue)
        // The module given directly trains on from where the first run left it.
        let m1 = host.global("m1")["test_loss"]?.doubleValue ?? 0, m2 = host.global("m2")["test_loss"]?.doubleValue ?? 0
        #expect(m2 < m1)
    }

    /// A Lua schedule decides the learning rate of every step: the log must hold exactly
    /// base_lr · f(step / budget), with f evaluated here in Swift.
    @Test func aLuaScheduleGivesExactlyTheLearningRatesItReturns() throws {
        let dir = try TemporaryDirectory()
        let log = dir.path + "/logs/run.jsonl"
        let host = try runScript(luaPrelude + """
            local seen = {}
            result = train {
              data = blobs(100, 1), model = mlp, optimizer = optim.sgd { lr = 0.2 },
              batch_size = 10, budget = { iterations = 30 }, log = "\(log)",
              schedule = function(p, ctx)
                assert(ctx.budget == 30 and ctx.full_budget == 30 and ctx.base_lr == 0.2)
                assert(ctx.steps_per_epoch == 10 and ctx.epoch == ctx.step // 10)
                assert(p == ctx.step / ctx.budget)
                seen[#seen + 1] = ctx.step
                return 0.5 * (1 - p) ^ 2 + 0.01 * (ctx.step % 3)
              end,
            }
            calls = #seen
            """, in: dir)
        #expect(host.global("result")["status"]?.stringValue == "ok")
        #expect(host.global("calls").intValue == 30)
        let lines = try jsonLines(String(contentsOfFile: log, encoding: .utf8)).filter { $0["event"] == nil }
        #expect(lines.count == 30)
        for (i, line) in lines.enumerated() {
            let p = Double(i) / 30
            let expected = 0.2 * (0.5 * pow(1 - p, 2) + 0.01 * Double(i % 3))
            #expect(line["step"] == "\(i)")
            #expect(line["progress"].flatMap(Double.init) == p)
            #expect(line["lr"].flatMap(Double.init) == expected, "step \(i)")
            #expect(line["loss"].flatMap(Double.init)?.isFinite == true)
        }
    }

    @Test func aScheduleReturningABadValueStopsTheRunNamingStepAndValue() throws {
        let cases: [(String, String)] = [
            ("nil", "returned nil at step 3"),
            ("0/0", "nan at step 3"),
            ("math.huge", "returned inf at step 3"),
            ("-math.huge", "returned -inf at step 3"),
            ("-0.5", "returned -0.5 at step 3"),
            ("'0.5'", "returned the string \"0.5\" at step 3"),
        ]
        for (value, expected) in cases {
            let dir = try TemporaryDirectory()
            let message = scriptError(luaPrelude + """
                train { data = blobs(40, 1), model = mlp, optimizer = optim.sgd { lr = 0.1 },
                        batch_size = 10, budget = { iterations = 8 },
                        schedule = function(p, ctx) if ctx.step == 3 then return \(value) end return 1 end }
                """, in: dir) ?? ""
            #expect(message.contains(expected), "\(value): \(message)")
            #expect(message.contains("exp.lua:"), "\(value): \(message)")
        }
    }

    @Test func anErrorInsideALuaScheduleIsTheScriptsError() throws {
        let dir = try TemporaryDirectory()
        let message = scriptError(luaPrelude + """
            train { data = blobs(40, 1), model = mlp, optimizer = optim.sgd { lr = 0.1 },
                    batch_size = 10, budget = { iterations = 8 },
                    schedule = function(p) return p + nil end }
            """, in: dir) ?? ""
        #expect(message.contains("exp.lua:\(firstLineAfterPrelude + 2): attempt to perform arithmetic on a nil value"), "\(message)")
        #expect(message.components(separatedBy: "stack traceback:").count == 2)
    }

    @Test func aDivergingRunEndsWithStatusDiverged() throws {
        let r = try runLua(luaPrelude + """
            result = train { data = blobs(40, 1), model = mlp, optimizer = optim.sgd { lr = 1e30 },
                             batch_size = 8, budget = { iterations = 20 }, schedule = schedule.constant() }
            """).global("result")
        #expect(r["status"]?.stringValue == "diverged")
        #expect((r["steps"]?.intValue ?? 20) < 20)
        #expect(r["message"]?.stringValue?.contains("training loss became") == true)
    }

    @Test func trainFieldsAreChecked() throws {
        let dir = try TemporaryDirectory()
        let base = "data = blobs(40, 1), model = mlp, optimizer = optim.sgd { lr = 0.1 }"
        let cases: [(String, String)] = [
            ("train { \(base), bugdet = { epochs = 1 } }", "unknown field 'bugdet' to 'train'; did you mean 'budget'?"),
            ("train { \(base) }", "bad field 'budget' to 'train' (table { epochs = n } | { iterations = n } | { seconds = s } expected, got nil)"),
            ("train { \(base), budget = { epochs = 1, iterations = 3 } }", "bad field 'budget' to 'train' (exactly one of epochs, iterations, seconds, examples or flops expected, got 2)"),
            ("train { \(base), budget = { epocs = 1 } }", "unknown field 'budget.epocs' to 'train'; did you mean 'epochs'?"),
            ("train { \(base), budget = { epochs = 'x' } }", "bad field 'budget.epochs' to 'train' (number expected, got string)"),
            ("train { \(base), budget = { epochs = -1 } }", "epochs must be a positive number"),
            ("train { data = blobs(40, 1), model = mlp, budget = { epochs = 1 } }", "bad field 'optimizer' to 'train'"),
            ("train { \(base), budget = { epochs = 1 }, schedule = 3 }", "bad field 'schedule' to 'train' (schedule or function expected, got number)"),
            ("train { \(base), budget = { epochs = 1 }, batch_size = 0 }", "bad field 'batch_size' to 'train' (a positive integer expected, got 0)"),
            ("train { data = { train = blobs(40, 1), tset = blobs(8, 2) }, model = mlp, optimizer = optim.sgd { lr = 0.1 }, budget = { epochs = 1 } }", "unknown field 'data.tset' to 'train'; did you mean 'test'?"),
            ("train { data = blobs(40, 1), model = function() return 42 end, optimizer = optim.sgd { lr = 0.1 }, budget = { epochs = 1 } }", "the factory returned number, a module expected"),
            ("train { data = blobs(40, 1), model = 'mlp', optimizer = optim.sgd { lr = 0.1 }, budget = { epochs = 1 } }", "bad field 'model' to 'train' (function returning a module, or module expected, got string)"),
        ]
        for (code, expected) in cases {
            let message = scriptError(luaPrelude + code, in: dir) ?? "(no error)"
            #expect(message.contains("exp.lua:\(firstLineAfterPrelude): ") && message.contains(expected), "\(code): \(message)")
        }
    }

    @Test func aShapeMismatchNamesTheLayerAndBothShapes() throws {
        let dir = try TemporaryDirectory()
        let message = scriptError(luaPrelude + """
            train { data = blobs(40, 1), optimizer = optim.sgd { lr = 0.1 }, batch_size = 8, budget = { epochs = 1 },
                    model = function() return nn.Sequential { nn.Linear(2, 16), nn.ReLU(), nn.Linear(100, 10) } end }
            """, in: dir) ?? ""
        #expect(message.contains("exp.lua:\(firstLineAfterPrelude): Sequential[3] Linear(100 -> 10): expected input [N, 100], got [8, 16]"), "\(message)")
    }

    @Test func checkModeValidatesWithoutTraining() throws {
        let dir = try TemporaryDirectory()
        let log = dir.path + "/never.jsonl"
        let host = try runScript(luaPrelude + """
            calls = 0
            result = train { data = { train = blobs(40, 1), test = blobs(8, 2) }, model = mlp, log = "\(log)",
                             optimizer = optim.sgd { lr = 0.1 }, batch_size = 8, budget = { epochs = 2 },
                             schedule = function(p) calls = calls + 1; return 1 - p end }
            """, in: dir, options: .init(mode: .check))
        let r = host.global("result")
        #expect(r["status"]?.stringValue == "checked")
        #expect(r["steps"]?.intValue == 10)
        #expect(r["parameters"]?.intValue == 2 * 16 + 16 + 16 * 4 + 4)
        #expect(r["output_shape"]?[0]?.intValue == 4)
        #expect((1...5).contains(host.global("calls").intValue ?? 0))
        #expect(!FileManager.default.fileExists(atPath: log))
        #expect(host.checkReports.count == 1)
        #expect(host.checkReports.first?.contains("train at") == true)

        let bad = scriptError(luaPrelude + """
            train { data = blobs(40, 1), optimizer = optim.sgd { lr = 0.1 }, batch_size = 8, budget = { epochs = 1 },
                    model = function() return nn.Sequential { nn.Linear(3, 4) } end }
            """, in: dir, options: .init(mode: .check)) ?? ""
        #expect(bad.contains("Sequential[1] Linear(3 -> 4): expected input [N, 3], got [8, 2]"), "\(bad)")
    }
}
