import BudgetEngine
import BudgetExperiments
import Foundation
import LuaHost
import Testing

/// `model:save`, `model:load` and `train{ checkpoint = ... }` from Lua.
@Suite struct CheckpointBindingTests {
    @Test func savedWeightsLoadIntoAFreshModel() throws {
        let dir = try TemporaryDirectory()
        let host = try runScript(luaPrelude + """
            local function net() return nn.Sequential { nn.Linear(2, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.2), nn.Linear(8, 4) } end
            local a = net()
            a:save("\(dir.path)/a.safetensors")
            local b = net()                              -- other initial weights
            b:save("\(dir.path)/before.safetensors")
            loaded = b:load("\(dir.path)/a.safetensors") == b        -- returns the module, for chaining
            a:save("\(dir.path)/b.safetensors")
            b:save("\(dir.path)/c.safetensors")
            """, in: dir)
        #expect(host.global("loaded").boolValue == true)
        let before = try Data(contentsOf: URL(fileURLWithPath: dir.path + "/before.safetensors"))
        // Every parameter, buffer and random stream came across: the files are the same bytes.
        let a = try Data(contentsOf: URL(fileURLWithPath: dir.path + "/b.safetensors"))
        #expect(a == (try Data(contentsOf: URL(fileURLWithPath: dir.path + "/c.safetensors"))))
        #expect(a != before)
        let state = try CheckpointFile.read(path: dir.path + "/a.safetensors")
        #expect(state.arrays.keys.sorted() == [
            "model.0.bias", "model.0.weight", "model.1.bias", "model.1.running_mean", "model.1.running_var",
            "model.1.weight", "model.3.generator", "model.4.bias", "model.4.weight",
        ])
        #expect(state.arrays["model.0.weight"]?.shape == [8, 2])
    }

    @Test func loadingAFileThatDoesNotFitNamesTheFileAndTheTensor() throws {
        let dir = try TemporaryDirectory()
        let message = scriptError("""
            nn.Sequential { nn.Linear(2, 8) }:save("\(dir.path)/small.safetensors")
            nn.Sequential { nn.Linear(2, 9) }:load("\(dir.path)/small.safetensors")
            """, in: dir)
        #expect(message?.contains("small.safetensors: the saved state does not fit this model: 'model.0.weight' has shape [8, 2], the model's is [9, 2]") == true, "\(message ?? "")")
        #expect(message?.contains("exp.lua:2:") == true, "\(message ?? "")")
        let missing = scriptError("nn.Linear(2, 2):load('nowhere.safetensors')", in: dir)
        #expect(missing?.contains("nowhere.safetensors") == true, "\(missing ?? "")")
    }

    @Test func trainCheckpointsAndResumesBitForBit() throws {
        let dir = try TemporaryDirectory()
        let script = luaPrelude + """
            local stop_at = tonumber(arg[1])
            result = train {
              data = { train = blobs(400, 1), test = blobs(200, 2) }, model = mlp,
              optimizer = optim.sgd { lr = 0.1, momentum = 0.9 }, batch_size = 16,
              budget = { iterations = 300 }, seed = 4, name = "blobs", log = "log.jsonl",
              checkpoint = { every = 0.1 },
              schedule = function(p, ctx)
                if stop_at and ctx.step == stop_at then os.execute("kill -TERM " .. budgetrain.pid) end
                return 1 - p
              end,
            }
            print(result.test_accuracy, result.train_loss)
            """
        try dir.write("exp.lua", script)
        let whole = try runBudgetrain(["run", "exp.lua", "--quiet", "--out", "whole"], in: dir.path)
        #expect(whole.status == 0, "\(whole.stderr)")
        let wholeLog = try dir.read("log.jsonl")

        // Stopped by SIGTERM at step 170: it checkpoints and exits with 143.
        let stopped = try runBudgetrain(["run", "exp.lua", "--quiet", "--out", "part", "--", "170"], in: dir.path)
        #expect(stopped.status == 143, "\(stopped.stderr)")
        #expect(stopped.stderr.contains("blobs: stopped at step "), "\(stopped.stderr)")
        #expect(!stopped.stderr.contains("traceback"))
        let checkpoint = dir.path + "/part/blobs/checkpoint.safetensors"
        let saved = try CheckpointFile.read(path: checkpoint)
        let step = try #require(saved.info["run.step"].flatMap { Int($0) })
        #expect(step >= 170 && step < 300)
        let resumed = try runBudgetrain(["run", "exp.lua", "--quiet", "--out", "part", "--resume"], in: dir.path)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stdout == whole.stdout)
        #expect(try dir.read("log.jsonl") == wholeLog)
        #expect(!FileManager.default.fileExists(atPath: checkpoint), "a finished run's checkpoint is removed")
    }

    @Test func checkpointFieldsAreChecked() throws {
        let dir = try TemporaryDirectory()
        let base = luaPrelude + "train { data = blobs(40, 1), model = mlp, optimizer = optim.sgd { lr = 0.1 }, budget = { iterations = 4 }, "
        let bad = scriptError(base + "checkpoint = { every = 2 } }", in: dir)
        #expect(bad?.contains("bad field 'checkpoint' to 'train' (checkpoint: every must be a fraction of the budget in [0.0001, 1], got 2.0)") == true, "\(bad ?? "")")
        let typo = scriptError(base + "checkpoint = { evry = 0.1 } }", in: dir)
        #expect(typo?.contains("evry") == true && typo?.contains("every") == true, "\(typo ?? "")")
    }
}
