import BudgetEngine
import CLua
import Foundation
import LuaHost
import Testing

/// A layer that counts its deinitialisations, to see `__gc` release Swift objects.
final class DeinitProbe: Layer {
    nonisolated(unsafe) static var released = 0
    var isTraining = true
    var summary: String { "DeinitProbe" }
    func outputShape(for inputShape: [Int]) throws -> [Int] { inputShape }
    func forward(_ input: Tensor) throws -> Tensor { input }
    func backward(_ gradOutput: Tensor) throws -> Tensor { gradOutput }
    deinit { DeinitProbe.released += 1 }
}

@Suite struct LuaStateTests {
    @Test func valuesRoundTrip() throws {
        let host = try ScriptHost()
        let value: LuaValue = .record([
            ("n", .integer(3)), ("x", .number(0.25)), ("s", .string("héllo")), ("b", .boolean(true)),
            ("list", .array([.integer(1), .string("two"), .array([])])),
        ])
        try host.registry.global("probe", value)
        try host.runString("""
            assert(math.type(probe.n) == "integer" and probe.n == 3)
            assert(probe.x == 0.25 and probe.s == "héllo" and probe.b == true)
            assert(#probe.list == 3 and probe.list[2] == "two" and next(probe.list[3]) == nil)
            back = { a = 1.5, seq = { 10, 20, 30 }, nested = { k = { "v" } }, [7] = "skipped" }
            """)
        let back = host.global("back")
        #expect(back["a"]?.doubleValue == 1.5)
        #expect(back["seq"]?[2]?.intValue == 30)
        #expect(back["nested"]?["k"]?[0]?.stringValue == "v")
        #expect(back["seq"]?[3] == nil)
        #expect(host.global("undefined").isNull)
    }

    @Test func swiftFunctionsSeeArgumentsAndReturnSeveralResults() throws {
        let host = try ScriptHost()
        try host.registry.function("test.divmod") { args in
            let a = try args.integer(1), b = try args.integer(2)
            guard b != 0 else { throw args.bad(2, "division by zero") }
            return .multiple([.integer(a / b), .integer(a % b)])
        }
        try host.runString("q, r = test.divmod(17, 5)")
        #expect(host.global("q").intValue == 3)
        #expect(host.global("r").intValue == 2)
    }

    @Test func bindingErrorsCarryTheCallersPosition() throws {
        let host = try ScriptHost()
        try host.registry.function("test.fail") { args in throw args.bad(1, "always") }
        do {
            try host.runString("\n\ntest.fail(1)", chunkName: "@caller.lua")
            Issue.record("expected an error")
        } catch let error as LuaScriptError {
            #expect(error.message.hasPrefix("caller.lua:3: bad argument #1 to 'test.fail' (always)"))
            #expect(error.message.contains("stack traceback:"))
        }
        // A pcall in Lua catches binding errors like any Lua error, and the state stays usable.
        try host.runString("ok, message = pcall(test.fail, 1)")
        #expect(host.global("ok").boolValue == false)
        #expect(host.global("message").stringValue?.contains("bad argument #1 to 'test.fail'") == true)
    }

    @Test func nestedErrorsAreTracedOnce() throws {
        let host = try ScriptHost()
        // A Swift function calling back into Lua, whose Lua code fails: the error passes
        // through the Swift frame and reaches the script with one traceback.
        try host.registry.function("test.call") { args in
            let state = args.state
            state.pushValue(at: args.index(1))
            try state.protectedCall(arguments: 0, results: 0)
            return .null
        }
        do {
            try host.runString("test.call(function()\n error('inner') end)", chunkName: "@nested.lua")
            Issue.record("expected an error")
        } catch let error as LuaScriptError {
            #expect(error.message.hasPrefix("nested.lua:2: inner"))
            #expect(error.message.components(separatedBy: "stack traceback:").count == 2)
            #expect(error.message.contains("in function 'test.call'"))
        }
    }

    @Test func collectedObjectsReleaseTheirSwiftObject() throws {
        let host = try ScriptHost()
        try host.registry.function("test.probe") { _ in .object(ModuleHandle(DeinitProbe())) }
        let before = DeinitProbe.released
        try host.runString("for i = 1, 10 do local p = test.probe() end; collectgarbage(); collectgarbage()")
        #expect(DeinitProbe.released - before == 10)
    }

    @Test func objectsHaveMembersAndComparePerObject() throws {
        let host = try ScriptHost()
        try host.runString("""
            s = nn.Sequential()
            same = (s:add(nn.ReLU()) == s)
            other = (nn.Sequential() == s)
            ok, message = pcall(function() return s.parameter_cont end)
            """)
        #expect(host.global("same").boolValue == true)
        #expect(host.global("other").boolValue == false)
        #expect(host.global("message").stringValue?.contains("Module has no field 'parameter_cont'; did you mean 'parameter_count'?") == true)
    }

    /// Bindings called inside a coroutine read their arguments from the coroutine's stack, and
    /// a run started there calls its Lua schedule and factory on that stack too.
    @Test func bindingsWorkInsideCoroutines() throws {
        let dir = try TemporaryDirectory()
        let host = try runScript(luaPrelude + """
            local co = coroutine.wrap(function(a, b)
              local m = nn.Linear(a, b)
              coroutine.yield(m:parameter_count())
              local ok, message = pcall(nn.Linear, "x", 1)
              coroutine.yield(message)
              local r = train { data = blobs(40, 1), model = function() return mlp() end,
                                optimizer = optim.sgd { lr = 0.1 }, batch_size = 8, budget = { iterations = 6 },
                                schedule = function(p, ctx) coroutine.isyieldable(); return 1 - p end }
              return r.status, r.steps
            end)
            count = co(3, 4)
            message = co()
            status, steps = co()
            """, in: dir)
        #expect(host.global("count").intValue == 16)
        #expect(host.global("message").stringValue?.contains("bad argument #1 to 'nn.Linear' (number expected, got string)") == true)
        #expect(host.global("status").stringValue == "ok")
        #expect(host.global("steps").intValue == 6)
    }

    @Test func registeringANameTwiceIsRefused() throws {
        let host = try ScriptHost()
        #expect(throws: HostError.self) { try host.registry.function("nn.Linear") { _ in .null } }
        #expect(host.registry.registeredFunctions.contains("nn.Linear"))
    }

    @Test func namespacesCanBeRequired() throws {
        let host = try ScriptHost()
        try host.runString("same = (require('nn') == nn) and (require('optim') == optim)")
        #expect(host.global("same").boolValue == true)
    }
}
