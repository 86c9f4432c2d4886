import Foundation
import FuzzSupport
import LuaHost

/// The option decoders of the Lua API, fed generated Lua: the input chooses a call (a
/// binding and its arguments) and builds its table constructors from known field names and
/// awkward values (huge, negative, NaN, sparse tables with a huge `#t`, objects of the wrong
/// type). Every input must end in success or a thrown error; a trap is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLuaOptions(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    Fuzz.prepare()
    var choices = Choices(Fuzz.bytes(data, size))
    let source = LuaCall.generate(&choices)
    // To see the program an input makes (e.g. a crash's): BUDGETRAIN_FUZZ_PRINT=1 fuzz-lua-options FILE
    if getenv("BUDGETRAIN_FUZZ_PRINT") != nil { print(source) }
    var options = ScriptHost.Options(mode: .check)
    options.sandbox = true
    guard let host = try? ScriptHost(options: options) else { return 0 }
    _ = try? host.runString(source, chunkName: "=fuzz")
    return 0
}

/// Lua source for one call of a binding, chosen by fuzz input.
enum LuaCall {
    static func generate(_ c: inout Choices) -> String {
        var out = "local models = require('budgetrain.models')\n"
            + "local DS = data.synthetic { kind = 'images', n = 8, classes = 2, channels = 1, size = 4 }\n"
        // A few calls per input: later ones see what earlier ones built.
        for _ in 0..<(Int(c.byte() % 3) + 1) {
            var call = c.pick(calls)
            while let range = call.range(of: "T") { call.replaceSubrange(range, with: table(&c, depth: 0)) }
            while let range = call.range(of: "V") { call.replaceSubrange(range, with: value(&c, depth: 1)) }
            out += "local r = \(call)\nif type(r) == 'userdata' then local _ = tostring(r) end\n"
        }
        return out
    }

    /// Calls, with `T` an option table and `V` a value.
    static let calls = [
        "optim.sgd(T)", "optim.adam(T)", "optim.adamw(T)", "optim.sgd(V)",
        "schedule.step(T)", "schedule.linear(T)", "schedule.cosine(T)", "schedule.exp(T)", "schedule.poly(T)",
        "schedule.htd(T)", "schedule.wsd(T)", "schedule.inverse_sqrt(T)", "schedule.onecycle(T)", "schedule.sgdr(T)",
        "schedule.cyclic(T)", "schedule.sequence(T)", "schedule.sampled(schedule.linear(), T)", "schedule.warmup(V, V)",
        "schedule.truncated(V)", "schedule.linear():at(V, T)", "schedule.step(T):values(V, T)",
        "schedule.sequence(T):values(V)", "schedule.warmup(V, schedule.cosine(T)):values(V, T)",
        "nn.Linear(V, V, T)", "nn.Conv2d(V, V, V, T)", "nn.BatchNorm2d(V, T)", "nn.BatchNorm1d(V, T)",
        "nn.MaxPool2d(V, V)", "nn.AvgPool2d(V, V)", "nn.Dropout(V)", "nn.LeakyReLU(V)", "nn.Sequential(T)",
        "nn.Sequential(V):add(V)", "nn.Residual(V, V)", "nn.Flatten():output_shape(T)",
        "nn.Conv2d(1, 2, 3, T):output_shape(T)", "nn.MaxPool2d(V):output_shape(T)",
        "nn.Sequential{ nn.Flatten(), nn.Linear(16, 2) }:tree(T)", "models.mlp(T)", "models.lenet(T)",
        "models.resnet(T)", "data.from_table(T)", "data.synthetic(T)", "DS:subset(V, V)", "DS:split(V, V)",
        "DS:augment(T)", "DS:normalize(V)", "DS.shape", "#DS",
    ]

    static let fields = [
        "lr", "momentum", "nesterov", "weight_decay", "beta1", "beta2", "eps", "final", "gamma", "milestones",
        "epoch_milestones", "power", "lower", "upper", "decay", "shape", "warmup", "pct_start", "div", "final_div",
        "cycles", "mult", "low", "steps", "budget", "full_budget", "steps_per_epoch", "base_lr", "bias", "stride",
        "padding", "inputs", "labels", "classes", "name", "kind", "n", "test", "dimensions", "spread", "noise",
        "channels", "size", "seed", "layout_seed", "crop", "flip", "hidden", "activation", "in_channels", "depth",
        "width", "momentun",
    ]

    static let numbers = [
        "0", "1", "2", "3", "4", "7", "16", "-1", "0.5", "0.25", "1e-9", "2^31", "2^32", "2^40", "2^62", "-2^63",
        "math.maxinteger", "math.mininteger", "1e308", "math.huge", "-math.huge", "(0/0)", "65536", "1000",
    ]

    static let strings = ["''", "'linear'", "'cosine'", "'relu'", "'blobs'", "'images'", "'spirals'", "'/tmp/x'", "'a/../b'", "'\\0'"]

    static let objects = [
        "nn.ReLU()", "nn.Linear(2, 2)", "nn.Sequential()", "schedule.linear()", "function(p) return 1 - p end",
        "function(p) return 0/0 end", "optim.sgd{ lr = 1 }", "DS", "nn.CrossEntropy()", "io", "print",
    ]

    static func value(_ c: inout Choices, depth: Int) -> String {
        switch c.byte() % 8 {
        case 0, 1, 2: return c.pick(numbers)
        case 3: return c.pick(strings)
        case 4: return c.pick(["true", "false", "nil"])
        case 5: return c.pick(objects)
        case 6: return depth < 4 ? table(&c, depth: depth + 1) : "{}"
        default: return c.pick(sparse)
        }
    }

    /// Tables whose `#t` says nothing about their contents.
    static let sparse = [
        "(function() local t = {} for k = 40, 0, -1 do t[2^k] = 1 end return t end)()",
        "(function() local t = {} for k = 40, 0, -1 do t[2^k] = nn.ReLU() end return t end)()",
        "setmetatable({}, { __index = function() return 1 end, __len = function() return 2^40 end })",
        "{ [1] = 1, [3] = 3 }", "{ 1, nil, 3 }", "{ [0] = 1 }", "{ [-1] = 1 }", "{ [1.5] = 1 }",
    ]

    static func table(_ c: inout Choices, depth: Int) -> String {
        var parts: [String] = []
        for _ in 0..<Int(c.byte() % 5) {
            switch c.byte() % 3 {
            case 0: parts.append(value(&c, depth: depth))
            default: parts.append("\(c.pick(fields)) = \(value(&c, depth: depth))")
            }
        }
        return "{ " + parts.joined(separator: ", ") + " }"
    }
}
