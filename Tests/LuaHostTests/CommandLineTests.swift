import Foundation
import LuaHost
import Testing

/// The `budgetrain` executable: messages, tracebacks and exit codes for every class of user
/// error, from real script files.
@Suite struct CommandLineTests {
    /// Writes `exp.lua` into a fresh directory and runs `budgetrain <command> exp.lua` there.
    func run(_ script: String, command: String = "run", extra: [String] = [], environment: [String: String] = [:]) throws -> ProcessOutcome {
        let dir = try TemporaryDirectory()
        try dir.write("exp.lua", script)
        return try runBudgetrain([command, "exp.lua", "--quiet"].filter { command == "run" || $0 != "--quiet" } + extra, in: dir.path, environment: environment)
    }

    @Test func aSyntaxErrorNamesFileAndLine() throws {
        let r = try run("local x = 1\nlocal y = = 2\n")
        #expect(r.status == 2)
        #expect(r.stderr.contains("exp.lua:2: unexpected symbol near '='"), "\(r.stderr)")
    }

    @Test func aRuntimeErrorNamesFileAndLineWithATraceback() throws {
        let r = try run("local function explode()\n  local t = nil\n  return t.field\nend\nexplode()\n")
        #expect(r.status == 2)
        #expect(r.stderr.contains("exp.lua:3: attempt to index a nil value (local 't')"), "\(r.stderr)")
        #expect(r.stderr.contains("stack traceback:"))
        #expect(r.stderr.contains("exp.lua:5: in main chunk"), "\(r.stderr)")
    }

    @Test func aBadArgumentNamesFunctionArgumentAndTypes() throws {
        let r = try run("\nlocal m = nn.Linear('784', 10)\n")
        #expect(r.status == 2)
        #expect(r.stderr.contains("exp.lua:2: bad argument #1 to 'nn.Linear' (number expected, got string)"), "\(r.stderr)")
    }

    @Test func aBadOrUnknownFieldIsNamed() throws {
        let bad = try run("local o = optim.sgd { lr = '0.1' }")
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("exp.lua:1: bad field 'lr' to 'optim.sgd' (number expected, got string)"), "\(bad.stderr)")
        let unknown = try run("local o = optim.sgd {\n lr = 0.1,\n momentun = 0.9 }")
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("exp.lua:1: unknown field 'momentun' to 'optim.sgd'; did you mean 'momentum'?"), "\(unknown.stderr)")
    }

    @Test func aShapeMismatchNamesTheLayerPathAndBothShapes() throws {
        let r = try run(luaPrelude + """
            train { data = blobs(40, 1), optimizer = optim.sgd { lr = 0.1 }, batch_size = 8, budget = { epochs = 1 },
                    model = nn.Sequential { nn.Linear(2, 100), nn.ReLU(), nn.Linear(64, 4) } }
            """)
        #expect(r.status == 2)
        #expect(r.stderr.contains("exp.lua:\(firstLineAfterPrelude): Sequential[3] Linear(64 -> 4): expected input [N, 64], got [8, 100]"), "\(r.stderr)")
    }

    @Test func aBadScheduleValueStopsTheRunWithStepAndValue() throws {
        let r = try run(luaPrelude + """
            train { data = blobs(40, 1), model = mlp, optimizer = optim.sgd { lr = 0.1 }, batch_size = 8,
                    budget = { iterations = 10 }, schedule = function(p, ctx) if ctx.step == 4 then return 0/0 end return 1 - p end }
            """)
        #expect(r.status == 2)
        #expect(r.stderr.contains("nan at step 4 (progress 0.4)"), "\(r.stderr)")
    }

    @Test func missingDataSaysWhatToInstall() throws {
        let r = try run("local fm = data.fashion_mnist { dir = '/nonexistent/fashion-mnist' }")
        #expect(r.status == 2)
        #expect(r.stderr.contains("exp.lua:1:") && r.stderr.contains("apt-get install dataset-fashion-mnist"), "\(r.stderr)")
    }

    @Test func aMissingScriptIsAUsageError() throws {
        let dir = try TemporaryDirectory()
        let r = try runBudgetrain(["run", "absent.lua"], in: dir.path)
        #expect(r.status == 2)
        #expect(r.stderr.contains("absent.lua: no such file"))
    }

    @Test func badCommandLinesAreUsageErrors() throws {
        let dir = try TemporaryDirectory()
        for arguments in [["frobnicate"], ["run"], ["run", "x.lua", "--threads", "0"], ["run", "x.lua", "--seed", "-1"]] {
            let r = try runBudgetrain(arguments, in: dir.path)
            #expect(r.status == 2, "\(arguments): \(r.stderr)")
            #expect(r.stderr.contains("Usage:") || r.stderr.contains("Error:"), "\(arguments): \(r.stderr)")
        }
    }

    @Test func versionAndHelp() throws {
        let dir = try TemporaryDirectory()
        let version = try runBudgetrain(["--version"], in: dir.path)
        #expect(version.status == 0)
        #expect(version.stdout.contains("budgetrain \(BudgetrainVersion.string)"))
        #expect(version.stdout.contains("BLAS: OpenBLAS"))
        #expect(version.stdout.contains("threads: \(ProcessInfo.processInfo.activeProcessorCount)"))
        let help = try runBudgetrain(["run", "--help"], in: dir.path)
        #expect(help.status == 0)
        for option in ["--out", "--seed", "--threads", "--quiet", "<args>"] { #expect(help.stdout.contains(option), "\(option)") }
        let top = try runBudgetrain(["--help"], in: dir.path)
        #expect(top.stdout.contains("run") && top.stdout.contains("check") && top.stdout.contains("Exit status"))
    }

    @Test func runPassesArgumentsAndSeedAndTrains() throws {
        let r = try run(luaPrelude + """
            print("args", arg[1], arg[2], budgetrain.seed)
            local result = train { data = { train = blobs(200, 1), test = blobs(100, 2) }, model = mlp,
                                   optimizer = optim.sgd { lr = 0.1, momentum = 0.9 }, batch_size = 20, budget = { epochs = 3 } }
            print("result", result.status, result.steps, result.seed, result.test_accuracy > 0.9)
            """, extra: ["--seed", "7", "--threads", "1", "--", "--quick", "x"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("args\t--quick\tx\t7"), "\(r.stdout)")
        #expect(r.stdout.contains("result\tok\t30\t7\ttrue"), "\(r.stdout)")
        #expect(!r.stderr.contains("[="), "--quiet draws no progress: \(r.stderr)")
    }

    @Test func progressLinesWhenNotATerminal() throws {
        let dir = try TemporaryDirectory()
        try dir.write("exp.lua", luaPrelude + """
            train { data = blobs(40, 1), model = mlp, optimizer = optim.sgd { lr = 0.1 }, batch_size = 8, budget = { iterations = 5 }, name = "tiny" }
            """)
        let r = try runBudgetrain(["run", "exp.lua"], in: dir.path)
        #expect(r.status == 0, "\(r.stderr)")
        // Not a terminal: plain lines (no carriage returns), the last step and a summary.
        #expect(!r.stderr.contains("\r"))
        #expect(r.stderr.contains("tiny  [========================] 100%  5/5"), "\(r.stderr)")
        #expect(r.stderr.contains("tiny: ok, 5 steps in"), "\(r.stderr)")
    }

    @Test func checkBuildsModelsAndTrainsNothing() throws {
        let r = try run(luaPrelude + """
            local result = train { data = { train = blobs(40, 1), test = blobs(8, 2) }, model = mlp, name = "blobs-mlp",
                                   optimizer = optim.sgd { lr = 0.1 }, batch_size = 8, budget = { epochs = 100 } }
            print("status", result.status)
            """, command: "check")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("status\tchecked"))
        #expect(r.stdout.contains("checked blobs-mlp: Sequential: 116 parameters, [8, 2] -> [8, 4], 500 steps, schedule linear: OK"), "\(r.stdout)")
        #expect(r.stdout.contains("exp.lua: OK"))

        let bad = try run(luaPrelude + """
            train { data = blobs(40, 1), optimizer = optim.sgd { lr = 0.1 }, batch_size = 8, budget = { epochs = 1 },
                    model = function() return nn.Sequential { nn.Linear(3, 4) } end }
            """, command: "check")
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("Sequential[1] Linear(3 -> 4): expected input [N, 3], got [8, 2]"), "\(bad.stderr)")
    }
}
