import Foundation
import LuaHost
import Testing

@Suite struct ModuleSearchTests {
    @Test func theEmbeddedModelsBuildTheirModels() throws {
        let dir = try TemporaryDirectory()
        let host = try runScript("""
            local models = require("budgetrain.models")
            mlp = models.mlp { inputs = 784, hidden = { 256, 256 }, classes = 10 }
            count = mlp:parameter_count()
            text = tostring(mlp)
            ok, message = pcall(models.mlp, { hiden = { 3 } })
            """, in: dir)
        #expect(host.global("count").intValue == 784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10)
        #expect(host.global("text").stringValue?.hasPrefix("Sequential\n  (1): Flatten\n  (2): Linear(784 -> 256)") == true)
        #expect(host.global("message").stringValue?.contains("unknown field 'hiden' to 'models.mlp'") == true)
    }

    @Test func pluginsNextToTheScriptAndOnTheSearchPath() throws {
        let dir = try TemporaryDirectory()
        try dir.write("plugins/mine.lua", "return { answer = 42 }")
        try dir.write("elsewhere/lib/other.lua", "return { name = 'other' }")
        try dir.write("elsewhere/pkg/init.lua", "return { name = 'pkg' }")
        try dir.write("patterned/x_third.lua", "return { name = 'third' }")
        // A file may stand in for a standard module (files are searched first).
        try dir.write("budgetrain/models.lua", "return { overridden = true }")
        let host = try runScript("""
            answer = require("plugins.mine").answer
            other = require("other").name
            pkg = require("pkg").name
            third = require("third").name
            overridden = require("budgetrain.models").overridden
            ok, message = pcall(require, "nowhere")
            """, in: dir, options: .init(searchPath: [
                "\(dir.path)/elsewhere/lib;\(dir.path)/elsewhere/", "\(dir.path)/patterned/x_?.lua",
            ]))
        #expect(host.global("answer").intValue == 42)
        #expect(host.global("other").stringValue == "other")
        #expect(host.global("pkg").stringValue == "pkg")
        #expect(host.global("third").stringValue == "third")
        #expect(host.global("overridden").boolValue == true)
        #expect(host.global("message").stringValue?.contains("no module 'nowhere' in the embedded budgetrain library") == true)
    }

    @Test func searchPathEntries() {
        #expect(ScriptHost.searchPatterns(fromPath: "/a;/b/;/c/?.lua;") == ["/a/?.lua", "/a/?/init.lua", "/b/?.lua", "/b/?/init.lua", "/c/?.lua"])
    }

    @Test func argumentsArriveInArgAndAsVarargs() throws {
        let dir = try TemporaryDirectory()
        let host = try runScript("""
            script, first, second, count = arg[0], arg[1], arg[2], #arg
            local a, b = ...
            varargs = a .. "," .. b
            """, in: dir, arguments: ["--quick", "7"])
        #expect(host.global("script").stringValue == dir.path + "/exp.lua")
        #expect(host.global("first").stringValue == "--quick")
        #expect(host.global("second").stringValue == "7")
        #expect(host.global("count").intValue == 2)
        #expect(host.global("varargs").stringValue == "--quick,7")
    }

    @Test func theBudgetrainTableDescribesTheRun() throws {
        let dir = try TemporaryDirectory()
        let host = try runScript("info = budgetrain", in: dir, options: .init(seed: 9, mode: .check, outputDirectory: "out"))
        let info = host.global("info")
        #expect(info["seed"]?.intValue == 9)
        #expect(info["mode"]?.stringValue == "check")
        #expect(info["out_dir"]?.stringValue == "out")
        #expect(info["version"]?.stringValue == BudgetrainVersion.string)
    }
}
