import BudgetEngine
import CLua

/// The `schedule` namespace: learning-rate schedules, multipliers of the base rate as a
/// function of progress `p = step / budget`. Any Lua function `f(p, ctx)` is a schedule too,
/// wherever a schedule is expected (`train{}`, `schedule.warmup`, `schedule.sequence`, ...).
///
/// ```lua
/// schedule.linear()                                   -- 1 - p
/// schedule.step { milestones = { 0.5, 0.75 }, gamma = 0.1 }
/// schedule.warmup(0.05, schedule.cosine())
/// function(p, ctx) return (1 - p)^2 end               -- ctx.step, ctx.budget, ctx.epoch, ctx.base_lr, ...
/// ```
/// Names and options follow the engine's summaries (`cosine(final=0.1)`), which is also how
/// they print.
enum ScheduleBindings {
    static func register(in registry: BindingRegistry) throws {
        // Decays from 1.
        try registry.schedule("schedule.constant", fields: []) { _ in ConstantSchedule() }
        try registry.schedule("schedule.linear", fields: ["final"]) { o in
            try LinearSchedule(final: o.number("final", default: 0))
        }
        try registry.schedule("schedule.step", fields: ["milestones", "epoch_milestones", "gamma"]) { o in
            let gamma = try o.number("gamma", default: 0.1)
            if let epochs = try o.numbers("epoch_milestones") {
                guard !o.has("milestones") else {
                    throw o.bad("epoch_milestones", "give either milestones (fractions of the budget) or epoch_milestones (epochs), not both")
                }
                let whole = try epochs.map { e -> Int in
                    guard let n = Int(exactly: e) else { throw o.bad("epoch_milestones", "whole epochs expected, got \(e)") }
                    return n
                }
                return try StepSchedule(epochMilestones: whole, gamma: gamma)
            }
            return try StepSchedule(milestones: o.numbers("milestones") ?? [0.5, 0.75], gamma: gamma)
        }
        try registry.schedule("schedule.exp", fields: ["final"]) { o in
            try ExponentialSchedule(final: o.number("final", default: 1e-3))
        }
        try registry.schedule("schedule.poly", fields: ["power"]) { o in
            try PolynomialSchedule(power: o.number("power", default: 2))
        }
        try registry.schedule("schedule.cosine", fields: ["final"]) { o in
            try CosineSchedule(final: o.number("final", default: 0))
        }
        try registry.schedule("schedule.htd", fields: ["lower", "upper"]) { o in
            try HyperbolicTangentDecaySchedule(lower: o.number("lower", default: -6), upper: o.number("upper", default: 3))
        }
        try registry.schedule("schedule.rex", fields: []) { _ in REXSchedule() }
        try registry.schedule("schedule.wsd", fields: WarmupStableDecayFields.names) { o in
            try WarmupStableDecayFields.schedule(o, shape: o.string("shape", default: "linear"))
        }
        // schedule.wsd_grid { decay = { 0.1, 0.2 }, shape = { "linear", "1-sqrt" }, warmup = 0.05 }:
        // every combination as { name, schedule } pairs, for experiment{}'s schedules.
        try registry.function("schedule.wsd_grid") { args in
            let o = try args.options(1, fields: WarmupStableDecayFields.names)
            try args.noMore(than: 1)
            return try WarmupStableDecayFields.grid(o)
        }
        try registry.schedule("schedule.inverse_sqrt", fields: ["warmup"]) { o in
            try InverseSquareRootSchedule(warmup: o.number("warmup", default: 0.1))
        }
        // Cycles.
        try registry.schedule("schedule.onecycle", fields: ["pct_start", "div", "final_div"]) { o in
            try OneCycleSchedule(
                pctStart: o.number("pct_start", default: 0.3), div: o.number("div", default: 25),
                finalDiv: o.number("final_div", default: 1e4))
        }
        try registry.schedule("schedule.sgdr", fields: ["cycles", "mult"]) { o in
            try CosineRestartsSchedule(cycles: o.integer("cycles", default: 4), mult: o.number("mult", default: 1))
        }
        try registry.schedule("schedule.cyclic", fields: ["cycles", "low"]) { o in
            try CyclicSchedule(cycles: o.integer("cycles", default: 4), low: o.number("low", default: 0.1))
        }

        // Combinators.
        // schedule.warmup(fraction, s): linear warm-up over the first `fraction`, then s.
        try registry.function("schedule.warmup") { args in
            let fraction = try args.number(1), inner = try args.schedule(2)
            try args.noMore(than: 2)
            return .object(ScheduleHandle(try WarmupSchedule(fraction, inner)))
        }
        // schedule.sequence { {0.5, s1}, {1, s2} }: s1 until p = 0.5, then s2 to the end.
        try registry.function("schedule.sequence") { args in
            let state = args.state
            let segments = try args.sequence(1, element: "segment { until, schedule }") { index -> (until: Double, schedule: Schedule)? in
                guard state.type(at: index) == LUA_TTABLE, state.rawLength(ofTableAt: index) == 2 else { return nil }
                state.rawGet(1, inTableAt: index)
                state.rawGet(2, inTableAt: index)
                defer { state.pop(2) }
                guard let until = state.number(at: -2), let schedule = state.schedule(at: -1) else { return nil }
                return (until, schedule)
            }
            try args.noMore(than: 1)
            return .object(ScheduleHandle(try SequenceSchedule(segments)))
        }
        // schedule.sampled(s [, {steps = k}]): s held constant per epoch (or per k steps).
        try registry.function("schedule.sampled") { args in
            let inner = try args.schedule(1)
            let o = try args.options(2, fields: ["steps"])
            try args.noMore(than: 2)
            let interval: SampledSchedule.Interval = try o.integer("steps").map { .steps($0) } ?? .epoch
            return .object(ScheduleHandle(try SampledSchedule(inner, every: interval)))
        }
        // schedule.truncated(s): s planned for the full budget, cut off when the run ends.
        try registry.function("schedule.truncated") { args in
            let inner = try args.schedule(1)
            try args.noMore(than: 1)
            return .object(ScheduleHandle(try TruncatedSchedule(inner)))
        }
    }

    static func registerTypes(in registry: BindingRegistry) throws {
        try registry.type(ScheduleHandle.self) { t in
            t.description { "schedule " + $0.schedule.summary }
            t.property("summary") { .string($0.schedule.summary) }
            // s:at(p [, {budget=, full_budget=, steps_per_epoch=, base_lr=}]): the multiplier at
            // progress p of a run of `budget` steps (default 1000).
            t.method("at") { handle, args in
                let p = try args.number(1)
                let o = try args.options(2, fields: ["budget", "full_budget", "steps_per_epoch", "base_lr"])
                try args.noMore(than: 2)
                guard p >= 0, p < 1 else { throw args.bad(1, "progress in [0, 1) expected, got \(p)") }
                let budget = try o.integer("budget", default: 1000)
                guard budget > 0 else { throw o.bad("budget", "a positive number of steps expected, got \(budget)") }
                let perEpoch = max(1, try o.integer("steps_per_epoch", default: budget))
                let step = min(budget - 1, Int((p * Double(budget)).rounded(.down)))
                let context = ScheduleContext(
                    step: step, budget: budget, fullBudget: try o.integer("full_budget", default: budget),
                    epoch: step / perEpoch, stepsPerEpoch: perEpoch, baseLearningRate: try o.number("base_lr", default: 1))
                return .number(try handle.schedule.checkedMultiplier(at: p, context: context))
            }
            // s:values(steps [, {full_budget=, steps_per_epoch=}]): the multiplier at every
            // step of a run of `steps` steps, as the trainer would see them.
            t.method("values") { handle, args in
                let steps = try args.integer(1)
                let o = try args.options(2, fields: ["full_budget", "steps_per_epoch"])
                try args.noMore(than: 2)
                let values = try handle.schedule.values(
                    steps: steps, fullSteps: o.integer("full_budget"), stepsPerEpoch: o.integer("steps_per_epoch"))
                return .array(values.map { .number($0) })
            }
        }
    }
}

extension BindingRegistry {
    /// Registers a schedule constructor taking an optional option table with `fields`.
    ///
    /// ```swift
    /// try registry.schedule("schedule.cosine", fields: ["final"]) { o in try CosineSchedule(final: ...) }
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
    /// The schedule at `index`: a schedule object, or a Lua function `f(p, ctx)` (wrapped in
    /// the engine's `FunctionSchedule`).
    public func schedule(at index: Int32) -> Schedule? {
        if let handle = object(at: index, as: ScheduleHandle.self) { return handle.schedule }
        guard type(at: index) == LUA_TFUNCTION else { return nil }
        let function = LuaScheduleFunction(function: index, in: self)
        return FunctionSchedule(summary: function.summary) { p, context in try function.call(p, context) }
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

/// The fields of `schedule.wsd` and `schedule.wsd_grid`: `warmup` (a fraction of the full
/// budget) or `warmup_steps`, `decay` (a fraction of the budget) or `decay_steps`, `shape`.
enum WarmupStableDecayFields {
    static let names = ["warmup", "warmup_steps", "decay", "decay_steps", "shape"]

    static func schedule(_ o: LuaOptions, shape: String, decay fraction: Double? = nil, decaySteps: Int? = nil) throws -> WarmupStableDecaySchedule {
        let warmupFraction = try o.number("warmup"), warmupSteps = try o.integer("warmup_steps")
        guard warmupFraction == nil || warmupSteps == nil else { throw o.bad("warmup", "give warmup or warmup_steps, not both") }
        let warmup: WarmupStableDecaySchedule.Length = warmupSteps.map { .steps($0) } ?? .fraction(warmupFraction ?? 0)
        let decay: WarmupStableDecaySchedule.Length
        if let decaySteps { decay = .steps(decaySteps) } else if let fraction { decay = .fraction(fraction) } else {
            let f = try o.number("decay"), n = try o.integer("decay_steps")
            guard f == nil || n == nil else { throw o.bad("decay", "give decay or decay_steps, not both") }
            decay = n.map { .steps($0) } ?? .fraction(f ?? 0.2)
        }
        return try WarmupStableDecaySchedule(warmup: warmup, decay: decay, shape: WarmupStableDecaySchedule.Cooldown(named: shape))
    }

    /// Every combination of the listed decays (fractions or, with `decay_steps`, steps) and
    /// shapes, named `wsd-<decay>-<shape>`, in the order given.
    static func grid(_ o: LuaOptions) throws -> LuaValue {
        let shapes = try o.withField("shape") { index -> [String] in
            guard index != nil else { return ["linear"] }
            if let one = try? o.string("shape") { return [one] }
            return try o.strings("shape") ?? ["linear"]
        }
        let fractions = try o.withField("decay") { index -> [Double]? in
            guard index != nil else { return nil }
            if let one = try? o.number("decay") { return [one] }
            return try o.numbers("decay")
        }
        let steps = try o.withField("decay_steps") { index -> [Int]? in
            guard index != nil else { return nil }
            if let one = try? o.integer("decay_steps") { return [one] }
            return try o.numbers("decay_steps")?.map { x in
                guard let n = Int(exactly: x) else { throw o.bad("decay_steps", "whole numbers of steps expected, got \(x)") }
                return n
            }
        }
        guard fractions == nil || steps == nil else { throw o.bad("decay", "give decay or decay_steps, not both") }
        var pairs: [LuaValue] = []
        for shape in shapes {
            if let steps {
                for n in steps {
                    pairs.append(.array([.string("wsd-\(n)steps-\(shape)"), .object(ScheduleHandle(try schedule(o, shape: shape, decaySteps: n)))]))
                }
            } else {
                for f in fractions ?? [0.2] {
                    pairs.append(.array([.string("wsd-\(f.formatted)-\(shape)"), .object(ScheduleHandle(try schedule(o, shape: shape, decay: f)))]))
                }
            }
        }
        guard pairs.count <= 10_000 else { throw o.bad("decay", "\(pairs.count) schedules is more than a grid of 10,000") }
        return .array(pairs)
    }
}
