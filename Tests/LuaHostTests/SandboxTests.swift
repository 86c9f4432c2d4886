import Foundation
import LuaHost
import Testing

/// `--sandbox` and `budgetrain schedule`: what a sandboxed script keeps and what it loses.
@Suite struct SandboxTests {
    func sandboxed() -> ScriptHost.Options {
        var options = ScriptHost.Options()
        options.sandbox = true
        return options
    }

    @Test func outsideReachingLibrariesAreGone() throws {
        let host = try runLua("""
            kept = type(os.time()) == "number" and type(os.clock()) == "number" and type(os.date("%Y")) == "string"
            gone = { io = io, debug = debug, execute = os.execute, remove = os.remove, getenv = os.getenv,
                     exit = os.exit, loadlib = package.loadlib }
            cpath = package.cpath
            ok_io = pcall(require, "io")
            ok_debug = pcall(require, "debug")
            """, options: sandboxed())
        #expect(host.global("kept").boolValue == true)
        if case let .record(fields) = host.global("gone") { #expect(fields.isEmpty, "\(fields.map(\.0))") }
        #expect(host.global("cpath").stringValue == "")
        #expect(host.global("ok_io").boolValue == false)
        #expect(host.global("ok_debug").boolValue == false)
    }

    @Test func chunksLoadAsTextOnly() throws {
        let host = try runLua("""
            local dumped = string.dump(function() return 1 end)
            f1, m1 = load(dumped)
            f2, m2 = load(dumped, "bin", "b")
            text = load("return 40 + 2")()
            with_env = load("return x", "e", "t", { x = 5 })()
            ok_nil_env = pcall(load("return x", "n", "bt", nil))
            """, options: sandboxed())
        #expect(host.global("f1").isNull && host.global("f2").isNull)
        #expect(host.global("m1").stringValue?.contains("attempt to load a binary chunk") == true)
        #expect(host.global("m2").stringValue?.contains("attempt to load a binary chunk") == true)
        #expect(host.global("text").intValue == 42)
        #expect(host.global("with_env").intValue == 5)
        #expect(host.global("ok_nil_env").boolValue == false)
    }

    @Test func loadfileAndDofileRefuseBinaryChunks() throws {
        let dir = try TemporaryDirectory()
        // A precompiled chunk (starts with ESC "Lua"): written by an unsandboxed host.
        try runScript("""
            local f = io.open(arg[1], "wb"); f:write(string.dump(function() return 1 end)); f:close()
            """, in: dir, arguments: [dir.path + "/chunk.luac"])
        try dir.write("text.lua", "return 'text'")
        let host = try runScript("""
            local dir = ...
            f, m = loadfile(dir .. "/chunk.luac")
            ok, dm = pcall(dofile, dir .. "/chunk.luac")
            text = dofile(dir .. "/text.lua")
            """, in: dir, arguments: [dir.path], options: sandboxed())
        #expect(host.global("f").isNull)
        #expect(host.global("m").stringValue?.contains("binary chunk") == true)
        #expect(host.global("ok").boolValue == false)
        #expect(host.global("dm").stringValue?.contains("binary chunk") == true)
        #expect(host.global("text").stringValue == "text")
    }

    @Test func requireLooksOnlyInTheScriptsFolderAndTheStandardLibrary() throws {
        let dir = try TemporaryDirectory()
        try dir.write("mine.lua", "return { answer = 42 }")
        try dir.write("pkg/init.lua", "return { name = 'pkg' }")
        try dir.write("elsewhere/other.lua", "return { name = 'other' }")
        var options = sandboxed()
        options.searchPath = [dir.path + "/elsewhere"]
        let host = try runScript("""
            answer = require("mine").answer
            pkg = require("pkg").name
            models = type(require("budgetrain.models").mlp)
            ok_path, m_path = pcall(require, "other")           -- BUDGETRAIN_PATH is ignored
            package.path = arg[0]:gsub("exp.lua$", "elsewhere/?.lua") .. ";" .. package.path
            ok_changed = pcall(require, "other")                -- and so is package.path
            ok_up, m_up = pcall(require, "../exp")
            ok_slash = pcall(require, "elsewhere/other")
            """, in: dir, options: options)
        #expect(host.global("answer").intValue == 42)
        #expect(host.global("pkg").stringValue == "pkg")
        #expect(host.global("models").stringValue == "function")
        #expect(host.global("ok_path").boolValue == false)
        #expect(host.global("m_path").stringValue?.contains("no file '\(dir.path)/other.lua'") == true)
        #expect(host.global("ok_changed").boolValue == false)
        #expect(host.global("ok_up").boolValue == false)
        #expect(host.global("m_up").stringValue?.contains("under --sandbox") == true)
        #expect(host.global("ok_slash").boolValue == false)
    }

    @Test func aStepLogIsWrittenOnlyBelowTheCurrentFolder() throws {
        for path in ["/tmp/x.jsonl", "../x.jsonl", "a/../../x.jsonl", "~/x.jsonl"] {
            let message = try #require(scriptError("train { log = '\(path)' }", in: try TemporaryDirectory(), options: sandboxed()))
            #expect(message.contains("bad field 'log' to 'train' (under --sandbox"), "\(message)")
        }
        // A relative log is fine (the run then fails for want of data, not of the log).
        let relative = try #require(scriptError("train { log = 'logs/run.jsonl' }", in: try TemporaryDirectory(), options: sandboxed()))
        #expect(!relative.contains("--sandbox"), "\(relative)")
    }

    @Test func workersOfASandboxedSweepAreSandboxed() throws {
        var options = sandboxed()
        options.sweep.workerArguments = ["run", "exp.lua", "--worker", "--", "--quick"]
        #expect(try ScriptHost(options: options).options.sweep.workerArguments == ["run", "exp.lua", "--worker", "--sandbox", "--", "--quick"])
    }

    @Test func withoutTheSandboxEverythingIsThere() throws {
        let host = try runLua("complete = io ~= nil and debug ~= nil and os.getenv ~= nil and package.loadlib ~= nil")
        #expect(host.global("complete").boolValue == true)
    }

    @Test func theCommandLineFlag() throws {
        let dir = try TemporaryDirectory()
        try dir.write("exp.lua", "io.write('escaped')")
        let sandboxed = try runBudgetrain(["run", "--sandbox", "exp.lua"], in: dir.path)
        #expect(sandboxed.status == 2)
        #expect(sandboxed.stderr.contains("exp.lua:1: attempt to index a nil value (global 'io')"), "\(sandboxed.stderr)")
        let checked = try runBudgetrain(["check", "exp.lua", "--sandbox"], in: dir.path)
        #expect(checked.status == 2 && checked.stderr.contains("global 'io'"), "\(checked.stderr)")
        let free = try runBudgetrain(["run", "exp.lua", "--quiet"], in: dir.path)
        #expect(free.status == 0 && free.stdout == "escaped", "\(free.stderr)")
    }

    @Test func scheduleExpressionsAreAlwaysSandboxed() throws {
        let dir = try TemporaryDirectory()
        let r = try runBudgetrain(["schedule", "(function() os.execute('touch pwned') return schedule.linear() end)()"], in: dir.path)
        #expect(r.status == 2)
        #expect(r.stderr.contains("attempt to call a nil value (field 'execute')"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/pwned"))
    }
}
