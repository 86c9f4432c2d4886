import BudgetEngine

/// The `optim` namespace: optimizer settings (`OptimizerSpec`). `train{}` makes a fresh
/// optimizer from them for each run's fresh model.
///
/// ```lua
/// optim.sgd { lr = 0.1, momentum = 0.9, nesterov = true, weight_decay = 5e-4 }
/// optim.adam { lr = 1e-3 }                      -- beta1, beta2, eps, weight_decay (coupled)
/// optim.adamw { lr = 1e-3, weight_decay = 0.01 } -- decoupled weight decay
/// optim.sgd_schedulefree { lr = 1, momentum = 0.9, weight_decay = 0, warmup = 0 }  -- warmup in steps
/// optim.adamw_schedulefree { lr = 0.0025, betas = { 0.9, 0.999 }, eps = 1e-8, weight_decay = 0, warmup = 0 }
/// ```
enum OptimBindings {
    static func register(in registry: BindingRegistry) throws {
        try registry.optimizer("optim.sgd", fields: ["lr", "momentum", "nesterov", "weight_decay"]) { o in
            try SGD.Options(
                learningRate: o.requiredNumber("lr"), momentum: o.number("momentum", default: 0),
                nesterov: o.boolean("nesterov", default: false), weightDecay: o.number("weight_decay", default: 0))
        }
        let adamFields = ["lr", "beta1", "beta2", "eps", "weight_decay"]
        try registry.optimizer("optim.adam", fields: adamFields) { o in
            try Adam.Options(
                learningRate: o.number("lr", default: 1e-3), beta1: o.number("beta1", default: 0.9),
                beta2: o.number("beta2", default: 0.999), epsilon: o.number("eps", default: 1e-8),
                weightDecay: o.number("weight_decay", default: 0))
        }
        try registry.optimizer("optim.adamw", fields: adamFields) { o in
            try AdamW.Options(
                learningRate: o.number("lr", default: 1e-3), beta1: o.number("beta1", default: 0.9),
                beta2: o.number("beta2", default: 0.999), epsilon: o.number("eps", default: 1e-8),
                weightDecay: o.number("weight_decay", default: 1e-2))
        }
        try registry.optimizer("optim.sgd_schedulefree", fields: ["lr", "momentum", "weight_decay", "warmup"]) { o in
            try SGDScheduleFree.Options(
                learningRate: o.requiredNumber("lr"), momentum: o.number("momentum", default: 0.9),
                weightDecay: o.number("weight_decay", default: 0), warmup: warmupSteps(o))
        }
        try registry.optimizer("optim.adamw_schedulefree", fields: ["lr", "betas", "eps", "weight_decay", "warmup"]) { o in
            let betas = try o.numbers("betas") ?? [0.9, 0.999]
            guard betas.count == 2 else { throw o.bad("betas", "a pair { beta1, beta2 } expected, got \(betas.count) numbers") }
            return try AdamWScheduleFree.Options(
                learningRate: o.number("lr", default: 0.0025), beta1: betas[0], beta2: betas[1],
                epsilon: o.number("eps", default: 1e-8), weightDecay: o.number("weight_decay", default: 0), warmup: warmupSteps(o))
        }
    }

    /// A schedule-free optimizer's `warmup`: a whole number of steps (0 by default).
    static func warmupSteps(_ o: LuaOptions) throws -> Int {
        guard let steps = try o.number("warmup") else { return 0 }
        guard steps >= 0, steps <= Double(Int32.max), steps == steps.rounded() else {
            throw o.bad("warmup", "a number of steps (an integer >= 0) expected, got \(steps.formatted); to warm up over a fraction of the budget, give schedule = schedule.warmup(\(steps.formatted), schedule.constant())")
        }
        return Int(steps)
    }

    static func registerTypes(in registry: BindingRegistry) throws {
        try registry.type(OptimizerHandle.self) { t in
            t.description { $0.spec.description }
            t.property("lr") { .number($0.spec.learningRate) }
            t.property("settings") { handle in
                .record(handle.spec.settings.sorted { $0.key < $1.key }.map { ($0.key, .number($0.value)) })
            }
        }
    }
}

extension BindingRegistry {
    /// Registers an optimizer taking one option table with exactly `fields`.
    ///
    /// ```swift
    /// try registry.optimizer("optim.adam", fields: ["lr", "beta1"]) { o in try Adam.Options(...) }
    /// ```
    func optimizer(_ name: String, fields: [String], _ make: @escaping (LuaOptions) throws -> OptimizerSpec) throws {
        try function(name) { args in
            guard !args.isNil(1) else { throw args.mismatch(1, expected: "table") }
            let options = try args.options(1, fields: fields)
            try args.noMore(than: 1)
            return .object(OptimizerHandle(try make(options)))
        }
    }
}
