import BudgetEngine
import Foundation
import LuaHost
import Testing

/// `lr_find{}` from Lua and `budgetrain lr-find` through the built binary.
@Suite struct LRFindTests {
    /// Blobs whose labels are noise: no model can drive the loss to zero, so large rates make it
    /// explode and the sweep stops early.
    static let noisyData = """
        local function noisy(n, seed)
          math.randomseed(seed)
          local inputs, labels = {}, {}
          for i = 1, n do
            inputs[i] = { math.random() * 4 - 2, math.random() * 4 - 2 }
            labels[i] = math.random(0, 3)
          end
          return data.from_table { inputs = inputs, labels = labels, classes = 4 }
        end

        """

    @Test func luaSweepReturnsItsPointsAndIsTheSameForASeed() throws {
        let dir = try TemporaryDirectory()
        let host = try runScript(luaPrelude + Self.noisyData + """
            local d = { train = noisy(256, 1) }
            local function sweep(seed)
              return lr_find { data = d, model = mlp, optimizer = optim.sgd { lr = 0.1, momentum = 0.9 },
                               batch_size = 32, min = 1e-4, max = 1e4, steps = 100, seed = seed }
            end
            a, b, c = sweep(1), sweep(1), sweep(2)
            """, in: dir)
        let a = host.global("a"), b = host.global("b"), c = host.global("c")
        #expect(a["status"]?.stringValue == "ok")
        #expect(a["stopped"]?.stringValue == "loss exploded")
        guard case let .array(lrs)? = a["lrs"], case let .array(smoothed)? = a["smoothed"], case let .array(losses)? = a["losses"] else {
            throw TestSetupError("lrs, losses and smoothed lists expected")
        }
        let steps = try #require(a["steps"]?.intValue)
        #expect(steps > 1 && steps < 100 && lrs.count == steps && smoothed.count == steps && losses.count == steps)
        #expect(lrs.first?.doubleValue == 1e-4)
        // Each rate is the one before times (max/min)^(1/(steps-1)).
        let ratio = pow(1e8, 1.0 / 99)
        for i in 1..<lrs.count { #expect(abs((lrs[i].doubleValue ?? 0) / (lrs[i - 1].doubleValue ?? 1) / ratio - 1) < 1e-9) }
        let minimum = try #require(a["min_loss_lr"]?.doubleValue)
        #expect(a["suggestion"]?.doubleValue == minimum / 10)
        #expect(a["rule"]?.stringValue == "the learning rate at the minimum of the smoothed loss, divided by 10")
        #expect(a["min_smoothed_loss"]?.doubleValue == smoothed.compactMap(\.doubleValue).min())
        // The same seed, the same sweep; another seed, another.
        guard case let .array(lossesB)? = b["losses"], case let .array(lossesC)? = c["losses"] else { throw TestSetupError("losses") }
        #expect(losses.map(\.doubleValue) == lossesB.map(\.doubleValue))
        #expect(losses.map(\.doubleValue) != lossesC.map(\.doubleValue))
    }

    @Test func badFieldsAreNamed() throws {
        let dir = try TemporaryDirectory()
        func error(_ fields: String) -> String? {
            scriptError(luaPrelude + "lr_find { data = blobs(40, 1), optimizer = optim.sgd { lr = 0.1 }, \(fields) }", in: dir)
        }
        #expect(error("model = mlp, min = 0")?.contains("bad field 'min' to 'lr_find'") == true)
        #expect(error("model = mlp, min = 1, max = 0.5")?.contains("bad field 'max' to 'lr_find'") == true)
        #expect(error("model = mlp, steps = 1")?.contains("bad field 'steps' to 'lr_find'") == true)
        #expect(error("model = mlp(), steps = 10")?.contains("pass a factory") == true)
        #expect(error("model = mlp, stpes = 10")?.contains("did you mean 'steps'") == true)
        let line = error("model = mlp, min = 0") ?? ""
        #expect(line.contains("exp.lua:\(firstLineAfterPrelude):"), "\(line)")
    }

    @Test func checkModeSweepsNothing() throws {
        let dir = try TemporaryDirectory()
        let host = try runScript(luaPrelude + """
            f = lr_find { data = blobs(40, 1), model = mlp, optimizer = optim.sgd { lr = 0.1 }, batch_size = 8 }
            """, in: dir, options: ScriptHost.Options(mode: .check))
        let f = host.global("f")
        #expect(f["status"]?.stringValue == "checked")
        #expect(f["steps"]?.intValue == 0)
        #expect(f["suggestion"]?.doubleValue?.isNaN == true)
        #expect(host.checkReports.count == 1)
    }

    /// The command line: the first experiment's setup, CSV and SVG written, the rule and the
    /// value printed, the same bytes for the same seed.
    @Test func commandSweepsTheFirstExperiment() throws {
        let dir = try TemporaryDirectory()
        try dir.write("exp.lua", luaPrelude + Self.noisyData + """
            train { data = blobs(40, 1), model = mlp, optimizer = optim.sgd { lr = 0.1 }, budget = { iterations = 1000000 } }
            for _, name in ipairs { "first", "second" } do
              experiment {
                name = name, data = { train = noisy(256, 1), test = blobs(40, 2) }, model = mlp,
                optimizer = optim.sgd { lr = 0.1, momentum = 0.9 }, batch_size = 32, full_budget = { epochs = 1 },
                schedules = { linear = schedule.linear() }, seeds = { 7 },
              }
            end
            """)
        let outcome = try runBudgetrain(["lr-find", "exp.lua", "--min", "1e-4", "--max", "1e4", "--steps", "120", "--threads", "1"], in: dir.path)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.contains("lr-find experiment first: 120 steps from 0.0001 to 1e+04"), "\(outcome.stdout)")
        #expect(outcome.stdout.contains("exceeded 4× its minimum"))
        #expect(outcome.stdout.contains("(the learning rate at the minimum of the smoothed loss, divided by 10)"))
        let csv = try dir.read("runs/first-lr-find/lr-find.csv")
        let lines = csv.split(separator: "\n")
        #expect(lines.first == "step,lr,loss,smoothed")
        #expect(lines.count > 2 && lines.count < 122)
        let suggestion = try #require(outcome.stdout.split(separator: "\n").first { $0.hasPrefix("suggested learning rate: ") })
        let smoothed = lines.dropFirst().map { $0.split(separator: ",") }
        let minimum = try #require(smoothed.min { Double($0[3])! < Double($1[3])! })
        #expect(suggestion.contains("suggested learning rate: \(String(format: "%.4g", Double(minimum[1])! / 10)) "))
        #expect(try dir.read("runs/first-lr-find/lr-find.svg").contains("smoothed loss"))

        let again = try runBudgetrain(["lr-find", "exp.lua", "--min", "1e-4", "--max", "1e4", "--steps", "120", "--threads", "1",
                                       "--out", "again", "--experiment", "first"], in: dir.path)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try dir.read("again/lr-find.csv") == csv)
        let second = try runBudgetrain(["lr-find", "exp.lua", "--steps", "20", "--experiment", "second", "--out", "second"], in: dir.path)
        #expect(second.status == 0 && second.stdout.contains("lr-find experiment second"), "\(second.stderr)")
    }

    @Test func commandFailuresAreUsageErrors() throws {
        let dir = try TemporaryDirectory()
        try dir.write("none.lua", luaPrelude + "print('no experiment')\n")
        let none = try runBudgetrain(["lr-find", "none.lua"], in: dir.path)
        #expect(none.status == 2)
        #expect(none.stderr.contains("none.lua: declares no experiment{}"), "\(none.stderr)")
        let bad = try runBudgetrain(["lr-find", "none.lua", "--min", "1", "--max", "0.1"], in: dir.path)
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("max must be"), "\(bad.stderr)")
        try dir.write("broken.lua", luaPrelude + "experiment { name = 'x', data = blobs(40, 1), model = mlp }\n")
        let broken = try runBudgetrain(["lr-find", "broken.lua"], in: dir.path)
        #expect(broken.status == 2)
        #expect(broken.stderr.contains("broken.lua:\(firstLineAfterPrelude):"), "\(broken.stderr)")
    }
}
