import BudgetEngine
import LuaHost
import Testing

@Suite struct NNBindingTests {
    @Test func sequentialFromTableAndByAdding() throws {
        let host = try ScriptHost()
        try host.runString("""
            a = nn.Sequential { nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10) }
            b = nn.Sequential():add(nn.Flatten()):add(nn.Linear(784, 256)):add(nn.ReLU()):add(nn.Linear(256, 10))
            count_a, count_b, length = a:parameter_count(), b:parameter_count(), #a
            text = tostring(a)
            tree = a:tree { 1, 28, 28 }
            out = a:output_shape { 1, 28, 28 }
            nobias = nn.Linear(3, 2, { bias = false }):parameter_count()
            """)
        let expected = 784 * 256 + 256 + 256 * 10 + 10
        #expect(host.global("count_a").intValue == expected)
        #expect(host.global("count_b").intValue == expected)
        #expect(host.global("length").intValue == 4)
        #expect(host.global("nobias").intValue == 6)
        let text = host.global("text").stringValue ?? ""
        #expect(text == "Sequential\n  (1): Flatten\n  (2): Linear(784 -> 256)\n  (3): ReLU\n  (4): Linear(256 -> 10)")
        #expect(host.global("tree").stringValue?.contains("(2): Linear(784 -> 256)  -> [1, 256]") == true)
        #expect(host.global("out")[0]?.intValue == 10)
    }

    @Test func weightsOutsideARunComeFromTheGlobalSeed() throws {
        func firstWeights(seed: UInt64) throws -> [Float] {
            let host = try ScriptHost(options: .init(seed: seed))
            try host.runString("m = nn.Linear(4, 3)")
            guard case let .object(handle as ModuleHandle) = host.global("m"), let linear = handle.layer as? Linear else {
                throw TestSetupError("m is not a Linear module")
            }
            return linear.weight.value.values
        }
        #expect(try firstWeights(seed: 1) == firstWeights(seed: 1))
        #expect(try firstWeights(seed: 1) != firstWeights(seed: 2))
    }

    @Test func aModuleAppearsOnlyOnceInAModel() throws {
        let host = try ScriptHost()
        try host.runString("""
            local relu = nn.ReLU()
            ok1, twice = pcall(function() return nn.Sequential { nn.Linear(2, 2), relu, relu } end)
            local s = nn.Sequential { nn.Linear(2, 2) }
            ok2, cycle = pcall(function() return s:add(s) end)
            local outer = nn.Sequential { s }
            ok3, inner = pcall(function() return s:add(outer) end)
            """)
        #expect(host.global("ok1").boolValue == false)
        #expect(host.global("twice").stringValue?.contains("ReLU is already part of this model") == true)
        #expect(host.global("ok2").boolValue == false)
        #expect(host.global("cycle").stringValue?.contains("already part of this model") == true)
        #expect(host.global("ok3").boolValue == false)
    }

    @Test func wrongArgumentsNameFunctionPositionAndTypes() throws {
        let host = try ScriptHost()
        let cases: [(String, String)] = [
            ("nn.Linear('a', 3)", "bad argument #1 to 'nn.Linear' (number expected, got string)"),
            ("nn.Linear(2)", "bad argument #2 to 'nn.Linear' (number expected, got no value)"),
            ("nn.Linear(2.5, 3)", "bad argument #1 to 'nn.Linear' (number has no integer representation)"),
            ("nn.Linear(2, 3, 4)", "bad argument #3 to 'nn.Linear' (table expected, got number)"),
            ("nn.Linear(2, 3, { bais = false })", "unknown field 'bais' to 'nn.Linear'; did you mean 'bias'?"),
            ("nn.Linear(0, 3)", "Linear: sizes must be positive"),
            ("nn.Sequential { nn.ReLU(), 5 }", "bad argument #1 to 'nn.Sequential' (module expected at index 2, got number)"),
            ("nn.ReLU():add(nn.ReLU())", "ReLU is not a container"),
            ("nn.Sequential():add(optim.sgd { lr = 1 })", "bad argument #1 to 'Module:add' (Module expected, got Optimizer)"),
            ("nn.ReLU(1)", "bad argument #1 to 'nn.ReLU' (no value expected, got number"),
        ]
        for (code, expected) in cases {
            do {
                try host.runString(code, chunkName: "@t.lua")
                Issue.record("no error for \(code)")
            } catch {
                let message = userMessage(for: error)
                #expect(message.hasPrefix("t.lua:1: "), "\(code): \(message)")
                #expect(message.contains(expected), "\(code): \(message)")
            }
        }
    }

    @Test func lossesPrintTheirName() throws {
        let host = try ScriptHost()
        try host.runString("name = tostring(nn.CrossEntropy())")
        #expect(host.global("name").stringValue == "CrossEntropy")
    }
}
