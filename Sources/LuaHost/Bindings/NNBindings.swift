import BudgetEngine
import BudgetExperiments
import CLua

/// The `nn` namespace: layers, containers and losses, Torch-style.
///
/// ```lua
/// local model = nn.Sequential { nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10) }
/// print(model)                      -- the tree, one layer per line
/// print(model:parameter_count())    -- 203530
/// ```
/// Layers draw their initial weights from the host's initialisation generator.
enum NNBindings {
    static func register(in registry: BindingRegistry, host: ScriptHost) throws {
        // Containers.
        try registry.function("nn.Sequential") { args in
            let container = try Sequential()
            if !args.isNil(1) {
                let layers = try args.sequence(1, element: "module") { args.state.object(at: $0, as: ModuleHandle.self)?.layer }
                for layer in layers { try ModelStructure.append(layer, to: container) }
            }
            try args.noMore(than: 1)
            return .object(ModuleHandle(container))
        }

        // Layers.
        try registry.layer("nn.Linear", host: host) { args, rng in
            let inputs = try args.integer(1), outputs = try args.integer(2)
            let o = try args.options(3, fields: ["bias"])
            try args.noMore(than: 3)
            return try Linear(inputs: inputs, outputs: outputs, bias: o.boolean("bias", default: true), rng: &rng)
        }
        try registry.layer("nn.ReLU", host: host) { ReLU() }
        try registry.layer("nn.Flatten", host: host) { Flatten() }

        // Losses.
        try registry.loss("nn.CrossEntropy") { CrossEntropy() }
    }

    static func registerTypes(in registry: BindingRegistry) throws {
        try registry.type(ModuleHandle.self) { t in
            t.description { $0.layer.treeDescription() }
            t.method("parameter_count") { module, args in
                try args.noMore(than: 0)
                return .integer(module.layer.parameterCount)
            }
            t.method("add") { module, args in
                guard let container = module.layer as? Sequential else {
                    throw BindingError("'\(args.function)': \(module.layer.summary) is not a container; only nn.Sequential takes :add")
                }
                try ModelStructure.append(args.object(1, as: ModuleHandle.self).layer, to: container)
                try args.noMore(than: 1)
                return .stackValue(1)  // self, for chaining: nn.Sequential():add(a):add(b)
            }
            t.method("tree") { module, args in
                // model:tree { 1, 28, 28 }: the printout with each layer's output shape for a
                // batch of that sample shape.
                let sample = try sampleShape(args, 1)
                try args.noMore(than: 1)
                return .string(module.layer.treeDescription(inputShape: [1] + sample))
            }
            t.method("output_shape") { module, args in
                let sample = try sampleShape(args, 1)
                try args.noMore(than: 1)
                let shape = try module.layer.outputShape(for: [1] + sample)
                return .array(shape.dropFirst().map { .integer($0) })
            }
            t.method("flops") { module, args in
                // model:flops { 1, 28, 28 }: the FLOPs of one example in a training step
                // (6 · multiply-adds: forward 2·, backward twice the forward; see FLOPCount),
                // then those of the forward pass alone.
                let sample = try args.sequence(1, element: "integer") { args.state.integer(at: $0) }
                try args.noMore(than: 1)
                let macs = try FLOPCount.forwardMultiplyAdds(module.layer, sampleShape: sample)
                return .multiple([.integer(6 * macs), .integer(2 * macs)])
            }
            t.method("save") { module, args in
                // model:save("weights.safetensors"): parameters, buffers and random streams
                // as safetensors (`model.1.weight`, ...), written atomically.
                let path = try args.string(1)
                try args.noMore(than: 1)
                try CheckpointFile.writeModel(module.layer, to: path)
                return .null
            }
            t.method("load") { module, args in
                // model:load(path): from model:save or a run's checkpoint; every name and
                // shape is checked before anything changes.
                let path = try args.string(1)
                try args.noMore(than: 1)
                try CheckpointFile.loadModel(module.layer, from: path)
                return .stackValue(1)
            }
            t.property("summary") { .string($0.layer.summary) }
            t.length { $0.layer.children.count }
        }
        try registry.type(LossHandle.self) { t in
            t.description { $0.summary }
        }
    }
}

/// The shape of one example at `position`, e.g. `{ 1, 28, 28 }`: positive integers holding at
/// most `TensorSize.maximumElements` values (so that no layer's shape arithmetic overflows).
func sampleShape(_ args: LuaArguments, _ position: Int) throws -> [Int] {
    let shape = try args.sequence(position, element: "integer") { args.state.integer(at: $0) }
    if let bad = shape.first(where: { $0 < 1 }) { throw args.bad(position, "sizes must be positive, got \(bad)") }
    guard let values = TensorSize.product(shape), values <= TensorSize.maximumElements else {
        throw args.bad(position, "\(shape.shapeString) holds more than \(TensorSize.maximumElements) values")
    }
    return shape
}

extension BindingRegistry {
    /// Registers a layer constructor: `make` reads the arguments and builds the layer, drawing
    /// any initial weights from `rng` (the host's initialisation generator).
    ///
    /// ```swift
    /// try registry.layer("nn.Tanh", host: host) { _, _ in Tanh() }
    /// ```
    func layer(_ name: String, host: ScriptHost, _ make: @escaping (LuaArguments, inout RandomGenerator) throws -> Layer) throws {
        try function(name) { [weak host] args in
            guard let host else { throw HostError("the script host no longer exists") }
            return .object(ModuleHandle(try make(args, &host.initialisation)))
        }
    }

    /// Registers a constructor of a layer that takes no arguments (`nn.ReLU()`, `nn.Flatten()`).
    func layer(_ name: String, host: ScriptHost, _ make: @escaping () -> Layer) throws {
        try layer(name, host: host) { args, _ in
            try args.noMore(than: 0)
            return make()
        }
    }

    /// Registers a loss constructor taking no arguments.
    func loss(_ name: String, _ make: @escaping () -> Loss) throws {
        try function(name) { args in
            try args.noMore(than: 0)
            return .object(LossHandle(make: make))
        }
    }
}
