import BudgetEngine
import CLua

/// The `schedule` namespace: learning-rate schedules, multipliers of the base rate as a
/// function of progress `p = step / budget`. Any Lua function `f(p, ctx)` is a schedule too.
///
/// ```lua
/// schedule.linear()                         -- 1 - p
/// schedule.constant()
/// function(p, ctx) return (1 - p)^2 end     -- ctx.step, ctx.budget, ctx.epoch, ctx.base_lr, ...
/// ```
enum ScheduleBindings {
    static func register(in registry: BindingRegistry) throws {
        try registry.schedule("schedule.constant", fields: []) { _ in ConstantSchedule() }
        try registry.schedule("schedule.linear", fields: ["final"]) { o in
            let final = try o.number("final", default: 0)
            guard final >= 0, final.isFinite else { throw o.bad("final", "a multiplier >= 0 expected, got \(final)") }
            return LinearSchedule(final: final)
        }
    }

    static func registerTypes(in registry: BindingRegistry) throws {
        try registry.type(ScheduleHandle.self) { t in
            t.description { "schedule " + $0.schedule.summary }
            t.property("summary") { .string($0.schedule.summary) }
            // s:at(p [, {budget=, steps_per_epoch=, base_lr=}]): the multiplier at progress p.
            t.method("at") { handle, args in
                let p = try args.number(1)
                let o = try args.options(2, fields: ["budget", "full_budget", "steps_per_epoch", "base_lr"])
                try args.noMore(than: 2)
                let budget = try o.integer("budget", default: 1000)
                guard budget > 0 else { throw o.bad("budget", "a positive number of steps expected, got \(budget)") }
                let perEpoch = max(1, try o.integer("steps_per_epoch", default: budget))
                let step = min(budget - 1, max(0, Int((p * Double(budget)).rounded(.down))))
                let context = ScheduleContext(
                    step: step, budget: budget, fullBudget: try o.integer("full_budget", default: budget),
                    epoch: step / perEpoch, stepsPerEpoch: perEpoch, baseLearningRate: try o.number("base_lr", default: 1))
                return .number(try handle.schedule.checkedMultiplier(at: p, context: context))
            }
        }
    }
}

extension BindingRegistry {
    /// Registers a schedule constructor taking an optional option table with `fields`.
    ///
    /// ```swift
    /// try registry.schedule("schedule.cosine", fields: ["final"]) { o in CosineSchedule(...) }
    /// ```
    func schedule(_ name: String, fields: [String], _ make: @escaping (LuaOptions) throws -> Schedule) throws {
        try function(name) { args in
            let options = try args.options(1, fields: fields)
            try args.noMore(than: 1)
            return .object(ScheduleHandle(try make(options)))
        }
    }
}

extension LuaState {
    /// The schedule at `index`: a schedule object, or a Lua function `f(p, ctx)`.
    public func schedule(at index: Int32) -> Schedule? {
        if let handle = object(at: index, as: ScheduleHandle.self) { return handle.schedule }
        guard type(at: index) == LUA_TFUNCTION else { return nil }
        return LuaFunctionSchedule(function: index, in: self)
    }
}

extension LuaArguments {
    /// A schedule object or a Lua function at `position`.
    public func schedule(_ position: Int) throws -> Schedule {
        guard let s = state.schedule(at: index(position)) else { throw mismatch(position, expected: "schedule or function") }
        return s
    }
}

extension LuaOptions {
    /// A schedule object or a Lua function in field `key` (nil when absent).
    public func schedule(_ key: String) throws -> Schedule? {
        try optional(key, "schedule or function") { state.schedule(at: $0) }
    }
}
