import BudgetEngine
import LuaHost
import Testing

@Suite struct OptimBindingTests {
    @Test func sgdSettings() throws {
        let host = try runLua("""
            o = optim.sgd { lr = 0.1, momentum = 0.9, nesterov = true, weight_decay = 5e-4 }
            lr, s = o.lr, o.settings
            """)
        #expect(host.global("lr").doubleValue == 0.1)
        let s = host.global("s")
        #expect(s["momentum"]?.doubleValue == 0.9)
        #expect(s["nesterov"]?.doubleValue == 1)
        #expect(s["weight_decay"]?.doubleValue == 5e-4)
    }

    @Test func optionErrorsNameTheField() throws {
        let cases: [(String, String)] = [
            ("optim.sgd { lr = 'x' }", "bad field 'lr' to 'optim.sgd' (number expected, got string)"),
            ("optim.sgd { momentum = 0.9 }", "bad field 'lr' to 'optim.sgd' (number expected, got nil)"),
            ("optim.sgd { lr = 0.1, momentun = 0.9 }", "unknown field 'momentun' to 'optim.sgd'; did you mean 'momentum'?"),
            ("optim.sgd { lr = 0.1, nesterov = 1 }", "bad field 'nesterov' to 'optim.sgd' (boolean expected, got number)"),
            ("optim.sgd { 0.1 }", "bad field [1] to 'optim.sgd' (options are named fields"),
            ("optim.sgd()", "bad argument #1 to 'optim.sgd' (table expected, got no value)"),
            ("optim.sgd { lr = -1 }", "sgd: lr must be a finite number >= 0"),
        ]
        for (code, expected) in cases {
            do {
                _ = try runLua(code, name: "o.lua")
                Issue.record("no error for \(code)")
            } catch {
                let message = userMessage(for: error)
                #expect(message.contains("o.lua:1: ") && message.contains(expected), "\(code): \(message)")
            }
        }
    }
}

@Suite struct ScheduleBindingTests {
    @Test func builtInSchedulesFollowTheirFormulas() throws {
        let host = try runLua("""
            lin = { schedule.linear():at(0), schedule.linear():at(0.25), schedule.linear():at(0.9) }
            fin = schedule.linear { final = 0.1 }:at(0.5)
            const = schedule.constant():at(0.7)
            name = tostring(schedule.linear())
            """)
        #expect(host.global("lin")[0]?.doubleValue == 1)
        #expect(host.global("lin")[1]?.doubleValue == 0.75)
        #expect(abs((host.global("lin")[2]?.doubleValue ?? 0) - 0.1) < 1e-12)
        #expect(abs((host.global("fin").doubleValue ?? 0) - (1 - 0.9 * 0.5)) < 1e-12)
        #expect(host.global("const").doubleValue == 1)
        #expect(host.global("name").stringValue == "schedule linear")
    }

    @Test func scheduleOptionsAreChecked() throws {
        #expect(throws: LuaScriptError.self) { try runLua("schedule.linear { finel = 0 }") }
        #expect(throws: LuaScriptError.self) { try runLua("schedule.linear { final = -1 }") }
        #expect(throws: LuaScriptError.self) { try runLua("schedule.constant(1)") }
    }
}

@Suite struct DataBindingTests {
    @Test func datasetsFromTablesAnswerSizeShapeClassesSubsetsAndSplits() throws {
        let host = try runLua("""
            local inputs, labels = {}, {}
            for i = 1, 40 do inputs[i] = { i, -i, 2 * i, 0, 1, 1 }; labels[i] = i % 3 end
            ds = data.from_table { inputs = inputs, labels = labels, shape = { 1, 2, 3 }, name = "toy" }
            n, classes, shape, count = #ds, ds.classes, ds.shape, ds.count
            sub, frac = #ds:subset(10, 1), #ds:subset(0.25)
            local a, b = ds:split(0.75, 2)
            na, nb = #a, #b
            aug = ds:augment { crop = 1, flip = true }
            text = tostring(ds)
            """)
        #expect(host.global("n").intValue == 40)
        #expect(host.global("classes").intValue == 3)
        #expect(host.global("count").intValue == 40)
        let shape = host.global("shape")
        #expect([shape[0]?.intValue, shape[1]?.intValue, shape[2]?.intValue] == [1, 2, 3])
        #expect(host.global("sub").intValue == 10)
        #expect(host.global("frac").intValue == 10)
        #expect(host.global("na").intValue == 30)
        #expect(host.global("nb").intValue == 10)
        #expect(host.global("text").stringValue == "Dataset toy: 40 examples of [1, 2, 3], 3 classes")
        guard case let .object(aug as DatasetHandle) = host.global("aug") else { throw TestSetupError("aug") }
        #expect(aug.dataset.augmentation == Augmentation(cropPadding: 1, horizontalFlip: true))
    }

    @Test func splitsAreDisjointAndSeeded() throws {
        let host = try runLua("""
            local inputs, labels = {}, {}
            for i = 1, 20 do inputs[i] = { i }; labels[i] = 0 end
            ds = data.from_table { inputs = inputs, labels = labels }
            a, b = ds:split(0.5, 7)
            c = ds:split(0.5, 7)
            """)
        guard case let .object(a as DatasetHandle) = host.global("a"), case let .object(b as DatasetHandle) = host.global("b"),
              case let .object(c as DatasetHandle) = host.global("c") else { throw TestSetupError("datasets") }
        #expect(Set(a.dataset.indices).isDisjoint(with: b.dataset.indices))
        #expect(Set(a.dataset.indices).union(b.dataset.indices).count == 20)
        #expect(a.dataset.indices == c.dataset.indices)
    }

    @Test func badDataIsReported() throws {
        let cases: [(String, String)] = [
            ("data.from_table { inputs = { {1}, {2} }, labels = { 0 } }", "bad field 'inputs' to 'data.from_table' (2 samples for 1 labels)"),
            ("data.from_table { inputs = { {1}, {2, 3} }, labels = { 0, 1 } }", "sample 2 has 2 values, sample 1 has 1"),
            ("data.from_table { inputs = { {1} }, labels = { -1 } }", "class index >= 0 expected at index 1"),
            ("data.from_table { inputs = { {1, 2} }, labels = { 0 }, shape = { 3 } }", "[3] holds 3 values, each sample has 2"),
            ("data.from_table { inputs = { {1} }, labels = { 0 } }:subset(0)", "bad argument #1 to 'Dataset:subset' (a count >= 1 or a fraction in (0, 1) expected, got 0.0)"),
            ("data.from_table { inputs = { {1} }, labels = { 0 } }:subset(5)", "subset of 5 examples from 1"),
        ]
        for (code, expected) in cases {
            do {
                _ = try runLua(code, name: "d.lua")
                Issue.record("no error for \(code)")
            } catch {
                let message = userMessage(for: error)
                #expect(message.contains("d.lua:1: ") && message.contains(expected), "\(code): \(message)")
            }
        }
    }
}

@Suite struct SpellingTests {
    @Test func suggestsTheClosestField() {
        #expect(Spelling.closest(to: "momentun", among: ["lr", "momentum", "nesterov"]) == "momentum")
        #expect(Spelling.closest(to: "bais", among: ["bias"]) == "bias")
        #expect(Spelling.closest(to: "zzz", among: ["lr", "momentum"]) == nil)
    }
}

@Suite struct DataLoaderBindingTests {
    @Test func syntheticDataWithAndWithoutATestSet() throws {
        let host = try runLua("""
            local pair = data.synthetic { kind = "blobs", n = 120, test = 30, classes = 3, dimensions = 5, seed = 2 }
            ntrain, ntest, classes, dims = #pair.train, #pair.test, pair.train.classes, pair.train.shape[1]
            images = data.synthetic { kind = "images", n = 12, classes = 4, channels = 2, size = 6 }
            ishape = images.shape
            spirals = #data.synthetic { kind = "spirals", n = 50 }
            ok, message = pcall(data.synthetic, { kind = "blob" })
            """)
        #expect(host.global("ntrain").intValue == 120)
        #expect(host.global("ntest").intValue == 30)
        #expect(host.global("classes").intValue == 3)
        #expect(host.global("dims").intValue == 5)
        let shape = host.global("ishape")
        #expect([shape[0]?.intValue, shape[1]?.intValue, shape[2]?.intValue] == [2, 6, 6])
        #expect(host.global("spirals").intValue == 50)
        #expect(host.global("message").stringValue?.contains("bad field 'kind' to 'data.synthetic' (\"blobs\", \"spirals\" or \"images\" expected, got \"blob\")") == true)
    }

    @Test func csvFilesWithANamedOrNumberedLabelColumn() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("iris.csv", "a,b,kind\n1,2,x\n3,4,y\n5,6,x\n")
        let host = try runLua("""
            local ds = data.csv { path = "\(path)", label = "kind" }
            n, shape, names = #ds, ds.shape[1], ds.class_names
            by_number = data.csv { path = "\(path)", label = 3 }.classes
            """)
        #expect(host.global("n").intValue == 3)
        #expect(host.global("shape").intValue == 2)
        #expect(host.global("names")[0]?.stringValue == "x")
        #expect(host.global("names")[1]?.stringValue == "y")
        #expect(host.global("by_number").intValue == 2)
    }

    @Test func normalisingUsesTheReferenceStatistics() throws {
        let host = try runLua("""
            local a = data.from_table { inputs = { {1}, {3} }, labels = { 0, 0 } }
            local b = data.from_table { inputs = { {5}, {7} }, labels = { 0, 0 } }
            normal_b = b:normalize(a)
            """)
        guard case let .object(b as DatasetHandle) = host.global("normal_b") else { throw TestSetupError("normal_b") }
        // a has mean 2 and (population) standard deviation 1: 5 -> 3, 7 -> 5.
        let values = b.dataset.indices.map { b.dataset.storage.inputs[Int($0)] }.sorted()
        #expect(values.count == 2 && abs(values[0] - 3) < 1e-5 && abs(values[1] - 5) < 1e-5, "\(values)")
    }

    @Test func aMissingDataDirectoryNamesTheDebianPackage() throws {
        let dir = try TemporaryDirectory()
        let message = scriptError("local fm = data.fashion_mnist { dir = '\(dir.path)/absent' }", in: dir) ?? ""
        #expect(message.contains("exp.lua:1:"), "\(message)")
        #expect(message.contains("dataset-fashion-mnist"), "\(message)")
        let cifar = scriptError("local c = data.cifar10 { dir = '\(dir.path)/absent' }", in: dir) ?? ""
        #expect(cifar.contains("no such directory"), "\(cifar)")
    }

    @Test func adamSettings() throws {
        let host = try runLua("""
            a = optim.adam { lr = 0.01, beta2 = 0.99 }.settings
            w = optim.adamw {}.settings
            ok, message = pcall(optim.adam, { lr = 0.01, betas = { 0.9, 0.99 } })
            """)
        #expect(host.global("a")["lr"]?.doubleValue == 0.01)
        #expect(host.global("a")["beta2"]?.doubleValue == 0.99)
        #expect(host.global("a")["weight_decay"]?.doubleValue == 0)
        #expect(host.global("w")["lr"]?.doubleValue == 1e-3)
        #expect(host.global("w")["weight_decay"]?.doubleValue == 1e-2)
        #expect(host.global("message").stringValue?.contains("unknown field 'betas' to 'optim.adam'") == true)
    }
}
