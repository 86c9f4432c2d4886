import BudgetEngine
import LuaHost
import Testing

@Suite struct NNBindingTests {
    @Test func sequentialFromTableAndByAdding() throws {
        let host = try runLua("""
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
            let host = try runLua("m = nn.Linear(4, 3)", options: .init(seed: seed))
            guard case let .object(handle as ModuleHandle) = host.global("m"), let linear = handle.layer as? Linear else {
                throw TestSetupError("m is not a Linear module")
            }
            return linear.weight.value.values
        }
        #expect(try firstWeights(seed: 1) == firstWeights(seed: 1))
        #expect(try firstWeights(seed: 1) != firstWeights(seed: 2))
    }

    @Test func aModuleAppearsOnlyOnceInAModel() throws {
        let host = try runLua("""
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
                _ = try runLua(code, name: "t.lua")
                Issue.record("no error for \(code)")
            } catch {
                let message = userMessage(for: error)
                #expect(message.contains("t.lua:1: "), "\(code): \(message)")
                #expect(message.contains(expected), "\(code): \(message)")
            }
        }
    }

    @Test func lossesPrintTheirName() throws {
        let host = try runLua("name = tostring(nn.CrossEntropy())")
        #expect(host.global("name").stringValue == "CrossEntropy")
    }
}

@Suite struct LayerBindingTests {
    /// Parameter counts from the layers' formulas: conv `in·out·k² (+ out)`, batch norm `2c`.
    @Test func layersTakeTorchStyleArguments() throws {
        let host = try runLua("""
            conv = nn.Conv2d(3, 16, 3):parameter_count()
            conv_nobias = nn.Conv2d(3, 16, 3, { stride = 2, padding = 1, bias = false }):parameter_count()
            bn = nn.BatchNorm2d(16, { momentum = 0.01, eps = 1e-3 }):parameter_count()
            bn_alias = tostring(nn.BatchNorm(8))
            bn1d = tostring(nn.BatchNorm1d(8))
            pool = nn.MaxPool2d(2):output_shape { 4, 9, 9 }
            avg = nn.AvgPool2d(3, 1):output_shape { 4, 9, 9 }
            gap = nn.GlobalAvgPool():output_shape { 4, 9, 9 }
            strided = nn.Conv2d(3, 8, 3, { stride = 2, padding = 1 }):output_shape { 3, 32, 32 }
            names = tostring(nn.Sequential { nn.LeakyReLU(0.2), nn.Tanh(), nn.Sigmoid(), nn.GELU(), nn.Dropout(0.25) })
            res = nn.Residual(nn.Sequential { nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4) }):parameter_count()
            proj = nn.Residual(nn.Linear(4, 6), nn.Linear(4, 6)):output_shape { 4 }
            mse = tostring(nn.MSE())
            """)
        #expect(host.global("conv").intValue == 3 * 16 * 9 + 16)
        #expect(host.global("conv_nobias").intValue == 3 * 16 * 9)
        #expect(host.global("bn").intValue == 2 * 16)
        #expect(host.global("bn_alias").stringValue == "BatchNorm2d(8)")
        #expect(host.global("bn1d").stringValue == "BatchNorm1d(8)")
        #expect(host.global("pool").intArray == [4, 4, 4])
        #expect(host.global("avg").intArray == [4, 7, 7])
        #expect(host.global("gap").intArray == [4])
        #expect(host.global("strided").intArray == [8, 16, 16])
        #expect(host.global("names").stringValue == "Sequential\n  (1): LeakyReLU(0.2)\n  (2): Tanh\n  (3): Sigmoid\n  (4): GELU\n  (5): Dropout(p=0.25)")
        #expect(host.global("res").intValue == 2 * (16 + 4))
        #expect(host.global("proj").intArray == [6])
        #expect(host.global("mse").stringValue == "MSE")
    }

    @Test func layerArgumentErrors() throws {
        let cases: [(String, String)] = [
            ("nn.Conv2d(3, 16)", "bad argument #3 to 'nn.Conv2d' (number expected, got no value)"),
            ("nn.Conv2d(3, 16, 3, { strid = 2 })", "unknown field 'strid' to 'nn.Conv2d'; did you mean 'stride'?"),
            ("nn.Conv2d(3, 16, 3, { padding = -1 })", "Conv2d: padding must be >= 0"),
            ("nn.BatchNorm2d(0)", "BatchNorm2d: channels must be positive"),
            ("nn.Dropout(1.5)", "Dropout: p must be in [0, 1)"),
            ("nn.MaxPool2d('2')", "bad argument #1 to 'nn.MaxPool2d' (number expected, got string)"),
            ("nn.Residual(3)", "bad argument #1 to 'nn.Residual' (Module expected, got number)"),
            ("local b = nn.Linear(2, 2); nn.Residual(b, b)", "appears more than once in the model"),
        ]
        for (code, expected) in cases {
            do {
                _ = try runLua(code, name: "l.lua")
                Issue.record("no error for \(code)")
            } catch {
                let message = userMessage(for: error)
                #expect(message.contains("l.lua:1: ") && message.contains(expected), "\(code): \(message)")
            }
        }
    }

    /// ResNet-20 for CIFAR: parameter count summed by hand from its layers.
    @Test func standardLibraryModelsHaveTheExpectedSizes() throws {
        let host = try runLua("""
            local models = require("budgetrain.models")
            resnet20 = models.resnet { depth = 20 }:parameter_count()
            out = models.resnet { depth = 8, width = 4, classes = 7 }:output_shape { 3, 32, 32 }
            lenet = models.lenet {}:parameter_count()
            lenet_cifar = models.lenet { in_channels = 3, size = 32 }:output_shape { 3, 32, 32 }
            ok, depth_error = pcall(models.resnet, { depth = 21 })
            """)
        func conv(_ i: Int, _ o: Int, _ k: Int) -> Int { i * o * k * k }
        func bn(_ c: Int) -> Int { 2 * c }
        func block(_ i: Int, _ o: Int) -> Int {
            conv(i, o, 3) + bn(o) + conv(o, o, 3) + bn(o) + (i != o ? conv(i, o, 1) + bn(o) : 0)
        }
        let stem = conv(3, 16, 3) + bn(16)
        let stages = 3 * block(16, 16) + block(16, 32) + 2 * block(32, 32) + block(32, 64) + 2 * block(64, 64)
        #expect(host.global("resnet20").intValue == stem + stages + 64 * 10 + 10)
        #expect(host.global("out").intArray == [7])
        let lenet = (conv(1, 6, 5) + 6) + (conv(6, 16, 5) + 16) + (400 * 120 + 120) + (120 * 84 + 84) + (84 * 10 + 10)
        #expect(host.global("lenet").intValue == lenet)
        #expect(host.global("lenet_cifar").intArray == [10])
        #expect(host.global("depth_error").stringValue?.contains("bad field 'depth' to 'models.resnet' (6n + 2 expected") == true)
    }

    @Test func aConvolutionalModelTrainsWithEitherLoss() throws {
        let dir = try TemporaryDirectory()
        let host = try runScript("""
            local d = data.synthetic { kind = "images", n = 128, test = 64, classes = 4, channels = 2, size = 6, seed = 3 }
            local function model()
              return nn.Sequential { nn.Conv2d(2, 4, 3, { padding = 1 }), nn.BatchNorm2d(4), nn.ReLU(),
                                     nn.GlobalAvgPool(), nn.Linear(4, 4) }
            end
            local common = { data = d, model = model, optimizer = optim.adam { lr = 0.01 }, batch_size = 16, budget = { epochs = 2 } }
            local function with(loss) local t = {}; for k, v in pairs(common) do t[k] = v end; t.loss = loss; return t end
            ce = train(with(nn.CrossEntropy()))
            mse = train(with(nn.MSE()))
            """, in: dir)
        for name in ["ce", "mse"] {
            let r = host.global(name)
            #expect(r["status"]?.stringValue == "ok", "\(name)")
            #expect(r["steps"]?.intValue == 16, "\(name)")
            #expect(r["test_accuracy"]?.doubleValue != nil, "\(name)")
        }
    }
}

extension LuaValue {
    /// The integers of an array value (nil entries dropped).
    var intArray: [Int] {
        guard case let .array(items) = self else { return [] }
        return items.compactMap(\.intValue)
    }
}
