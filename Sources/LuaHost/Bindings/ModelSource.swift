import BudgetEngine
import CLua

/// Where a run's model comes from: `model = function(cfg) ... end`, a factory called once per
/// run with the initialisation generator seeded from the run's seed (fresh weights for every
/// run), or `model = module`, used as it is.
struct ModelSource {
    private enum Kind {
        case module(Layer)
        case factory(LuaReference)
    }

    private let kind: Kind
    private let function: String
    private weak var host: ScriptHost?

    init(_ o: LuaOptions, host: ScriptHost) throws {
        let state = o.state
        function = o.function
        self.host = host
        kind = try o.withField("model") { index in
            guard let index else { throw o.mismatch("model", expected: "function returning a module, or module") }
            if let module = state.object(at: index, as: ModuleHandle.self) { return .module(module.layer) }
            guard state.type(at: index) == LUA_TFUNCTION else {
                throw o.mismatch("model", expected: "function returning a module, or module")
            }
            state.pushValue(at: index)
            return .factory(state.makeReference())
        }
    }

    /// Whether the script gave a module instance rather than a factory.
    var isModule: Bool {
        if case .module = kind { return true }
        return false
    }

    /// A builder for one run; a factory is called with `arguments` (an experiment passes the
    /// cell's configuration table).
    func builder(arguments: [LuaValue]) -> (inout RandomGenerator) throws -> Layer {
        switch kind {
        case let .module(layer):
            return { _ in
                try ModelStructure.validate(layer)
                return layer
            }
        case let .factory(factory):
            let function = self.function
            return { [weak host] rng in
                guard let host else { throw HostError("the script host no longer exists") }
                // The factory's layers draw from the run's generator; the host's own
                // generator continues where it was once the factory returns.
                let outside = host.initialisation
                host.initialisation = rng
                defer {
                    rng = host.initialisation
                    host.initialisation = outside
                }
                let state = host.state.current
                let saved = state.top
                defer { state.setTop(saved) }
                factory.push()
                var count: Int32 = 0
                for a in arguments { count += try state.push(a) }
                try state.protectedCall(arguments: count, results: 1)
                guard let module = state.object(at: -1, as: ModuleHandle.self) else {
                    throw BindingError.badField("model", to: function, "the factory returned \(state.typeName(at: -1)), a module expected (end it with: return nn.Sequential { ... })")
                }
                try ModelStructure.validate(module.layer)
                return module.layer
            }
        }
    }
}
