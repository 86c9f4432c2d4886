import BudgetEngine
import BudgetExperiments
import CLua
import Foundation

/// `experiment{...}`: declares a grid of runs (schedules × budgets × seeds × varied fields)
/// that `budgetrain run` carries out after the script returns.
///
/// ```lua
/// experiment {
///   name = "fmnist-mlp",
///   data = fm, model = mlp, loss = nn.CrossEntropy(),
///   optimizer = optim.sgd { lr = 0.1, momentum = 0.9, weight_decay = 5e-4 },
///   batch_size = 128,
///   full_budget = { epochs = 10 },
///   budgets = { 0.1, 0.25, 0.5, 1.0 },         -- fractions of full_budget, or { iterations = n }
///   schedules = { linear = schedule.linear(), step = schedule.step{} },
///   seeds = { 1, 2, 3 },
///   eval_at = { 0.5, 1.0 },                      -- progress points of test evaluations
///   targets = { 0.85, 0.88 },                    -- test accuracies for the time-to-target tables
///   probes = { grad_norm = { 1.0 }, examples = 10000, step_grad_norm = true },
///   vary = { lr = { 0.05, 0.1 } },               -- lr, weight_decay, batch_size, subset, or any field the model factory reads
///   checkpoint = { every = 0.1 },                -- or { seconds = 600 } (the default), or false
///   share_trunks = true,                         -- the default: runs sharing a beginning train it once
/// }
/// ```
/// `schedules` is a table of name = schedule (run in name order) or a list of
/// `{ name, schedule }` pairs (run in that order). The model factory receives a table with the
/// cell's `seed`, `schedule`, `budget` and varied fields.
enum ExperimentBinding {
    static let fields = [
        "name", "data", "model", "loss", "optimizer", "batch_size", "full_budget", "budgets", "schedules", "seeds",
        "eval_at", "probes", "vary", "checkpoint", "share_trunks", "average", "targets",
    ]

    static func register(in registry: BindingRegistry, host: ScriptHost) throws {
        try registry.declaration("experiment", fields: fields, host: host, clash: "an experiment") { o, host in
            try ExperimentDeclaration(o, host: host)
        }
    }
}

extension BindingRegistry {
    /// Registers `name { ... }`, a declaration the host carries out once the script has run
    /// (`experiment{}`, `search{}`): reads it with `make` from the option table (keys among
    /// `fields`) and refuses a second of the same label (`clash` names what it clashes with).
    func declaration(
        _ name: String, fields: [String], host: ScriptHost, clash: String,
        _ make: @escaping (LuaOptions, ScriptHost) throws -> ScriptDeclaration
    ) throws {
        try function(name) { [weak host] args in
            guard let host else { throw HostError("the script host no longer exists") }
            guard !args.isNil(1) else { throw args.mismatch(1, expected: "table") }
            let o = try args.options(1, fields: fields)
            try args.noMore(than: 1)
            let declaration = try make(o, host)
            if host.declarations.contains(where: { $0.label == declaration.label }) {
                throw o.bad("name", "\(clash) named '\(declaration.label)' is already declared")
            }
            host.declare(declaration)
            return .null
        }
    }
}

/// A declared experiment: its grid and everything a cell needs to become a run.
public final class ExperimentDeclaration: CellServing {
    public let plan: ExperimentPlan
    let train: Dataset
    let test: Dataset?
    let validation: Dataset?
    let probeData: Dataset?
    let model: ModelSource
    let makeLoss: () -> Loss
    let optimizer: OptimizerSpec
    let batchSize: Int
    let schedules: [String: Schedule]
    let evaluateAt: [Double]
    let gradNormAt: [Double]
    /// Log the minibatch gradient norm at every step (`probes.step_grad_norm`).
    let logsStepGradientNorm: Bool
    /// Target test accuracies for the report's time-to-target tables.
    let targets: [Double]
    /// Varied fields and their values, in plan order.
    let varied: [(name: String, values: [LuaValue])]
    let checkpoint: CheckpointPolicy
    /// Whether runs that share their beginning train it once (`TrunkPlan`).
    let shareTrunks: Bool
    /// The trunks of the grid, found once (a worker process trains many of its cells).
    private var trunkPlan: TrunkPlan?
    /// The weight average every run evaluates beside its model (nil for none).
    let averaging: WeightAveraging?
    /// Where the declaration stands in the script, for messages.
    let position: String?

    public var label: String { plan.name }

    init(_ o: LuaOptions, host: ScriptHost) throws {
        let name = try o.required("name", "string") { o.state.string(at: $0) }
        position = o.state.position(level: 1)
        (train, test) = try TrainRequest.readData(o)
        validation = try TrainRequest.readValidation(o)
        (model, makeLoss, optimizer, batchSize) = try DeclarationFields.readRunIngredients(o, host: host)
        guard let fullBudget = try TrainRequest.readBudget(o, key: "full_budget") else {
            throw o.mismatch("full_budget", expected: "table { epochs = n } | { iterations = n } | { seconds = s }")
        }
        let budgets = try Self.readBudgets(o)
        let scheduleList = try Self.readSchedules(o)
        schedules = Dictionary(scheduleList, uniquingKeysWith: { a, _ in a })
        let seeds = try DeclarationFields.readSeeds(o, host: host)
        evaluateAt = try Self.progressPoints(o, "eval_at") ?? [1.0]
        (gradNormAt, probeData, logsStepGradientNorm) = try DeclarationFields.readProbes(o, train: train)
        targets = try Self.targets(o)
        varied = try Self.readVaried(o)
        checkpoint = try TrainRequest.readCheckpoint(o, default: .experimentDefault).policy
        shareTrunks = try o.boolean("share_trunks", default: true)
        averaging = try AverageBinding.read(o, optimizer: optimizer)
        do {
            plan = try ExperimentPlan(
                name: name, fullBudget: fullBudget, budgets: budgets, schedules: scheduleList.map(\.0), seeds: seeds,
                extraFields: varied.map { field in (field.name, field.values.map(Self.text)) })
        } catch let error as EngineError {
            throw BindingError("bad argument #1 to 'experiment' (\(error.description))")
        }
    }

    /// The run a cell stands for (budgets in examples or FLOPs resolved to steps).
    func spec(for cell: ExperimentCell) throws -> RunSpec {
        var configuration: [(String, LuaValue)] = [
            ("seed", .integer(Int(truncatingIfNeeded: cell.seed))), ("schedule", .string(cell.schedule)),
            ("budget", .string(cell.budget.label)), ("run", .string(cell.run)),
        ]
        var fields: [(name: String, value: LuaValue)] = []
        for (field, (name, text)) in zip(varied, cell.extras) {
            fields.append((name, field.values.first { Self.text($0) == text } ?? .string(text)))
        }
        configuration += fields.map { ($0.name, $0.value) }
        let applied = try VariedFields.apply(
            fields, to: .init(optimizer: optimizer, batchSize: batchSize, train: train), seed: cell.seed, owner: "experiment '\(plan.name)'")
        guard let schedule = schedules[cell.schedule] else {
            throw HostError("experiment '\(plan.name)': no schedule named '\(cell.schedule)'")
        }
        var spec = RunSpec(
            makeModel: model.builder(arguments: [.record(configuration)]), makeLoss: makeLoss, optimizer: applied.optimizer,
            train: applied.train, test: test, batchSize: applied.batchSize, budget: cell.budget.resolve(full: plan.fullBudget),
            fullBudget: plan.fullBudget, schedule: schedule, seed: cell.seed, evaluateAt: evaluateAt,
            gradNormAt: gradNormAt, probeData: probeData)
        spec.checkpoint = checkpoint
        spec.validation = validation
        spec.averaging = averaging
        spec.logsStepGradientNorm = logsStepGradientNorm
        return try spec.resolvingBudgets()
    }

    /// `targets = { 0.85, 0.88 }`: test accuracies in (0, 1].
    static func targets(_ o: LuaOptions) throws -> [Double] {
        let values = try o.numbers("targets") ?? []
        for t in values where !(t > 0 && t <= 1) {
            throw o.bad("targets", "target test accuracies must be in (0, 1], got \(t)")
        }
        return values
    }

    public func run(in host: ScriptHost) throws {
        try ExperimentSweep(declaration: self, host: host).run()
    }

    /// Validates every schedule of the grid on the model (one batch each), training nothing.
    public func check(in host: ScriptHost) throws {
        var checked = Set<String>()
        for cell in plan.cells where checked.insert(cell.schedule).inserted {
            let report: String
            do {
                var spec = try spec(for: cell)
                do {
                    report = try DryRun.run(spec).line(budget: spec.budget, schedule: spec.schedule)
                } catch let missing as RefinedScheduleSourceMissing where host.options.mode == .check {
                    // Refined from a run an earlier experiment of this script trains first:
                    // check the model now, the schedule when its source exists.
                    let refined = spec.schedule.summary
                    spec.schedule = ConstantSchedule()
                    report = try DryRun.run(spec).line(budget: spec.budget, schedule: spec.schedule)
                        + "; schedule \(refined) is checked once \(missing.path) exists"
                }
            } catch {
                throw BindingError("experiment '\(plan.name)', schedule '\(cell.schedule)'\(position.map { " (declared at \($0))" } ?? ""): \(userMessage(for: error))")
            }
            host.checkReports.append("experiment \(plan.name), \(cell.schedule): \(report)")
        }
    }

    /// The runner of this grid's cells in `directory`, trunks included.
    func runner(directory: String) throws -> ExperimentRunner {
        let runner = ExperimentRunner(plan: plan, directory: directory) { [self] in try spec(for: $0) }
        if shareTrunks {
            if trunkPlan == nil { trunkPlan = try TrunkPlan(plan: plan) { [self] in try spec(for: $0) } }
            runner.trunks = trunkPlan ?? TrunkPlan()
        }
        return runner
    }

    /// Runs one cell by name in `directory` (a worker process's job): its record, or nil when
    /// a stop request interrupted it. A name the grid does not have becomes a failed record.
    public func runCell(named run: String, observer: TrainingObserver?, directory: String) -> ResultRow? {
        let runner: ExperimentRunner
        do { runner = try self.runner(directory: directory) } catch {
            var row = ExperimentRunner.row(for: ExperimentCell(run: run, schedule: "", budget: .fraction(0), seed: 0), experiment: plan.name)
            row.extras["message"] = "\(error)"
            return row
        }
        guard let cell = plan.cells.first(where: { $0.run == run }) else {
            let unknown = ExperimentCell(run: run, schedule: "", budget: .fraction(0), seed: 0)
            return try? runner.recordFailure(unknown, message: "experiment '\(plan.name)' has no run named '\(run)' (did the script change?)")
        }
        return runner.run(cell, observer: observer)
    }

    // MARK: Reading the declaration

    static func readBudgets(_ o: LuaOptions) throws -> [BudgetEntry] {
        try o.withField("budgets") { index in
            guard let index else { return [.fraction(1)] }
            let state = o.state
            guard state.type(at: index) == LUA_TTABLE else { throw o.mismatch("budgets", expected: "table of fractions or budget tables") }
            let count = Int(lua_rawlen(state.L, index))
            guard count > 0 else { throw o.bad("budgets", "at least one budget expected") }
            var entries: [BudgetEntry] = []
            for k in 1...count {
                lua_rawgeti(state.L, index, lua_Integer(k))
                defer { state.pop() }
                if let f = state.number(at: -1) {
                    guard f > 0, f.isFinite else { throw o.bad("budgets", "fractions must be positive, got \(f) at index \(k)") }
                    entries.append(.fraction(f))
                } else if state.type(at: -1) == LUA_TTABLE {
                    let nested = try LuaOptions(validating: -1, state: state, function: o.function, fields: TrainRequest.budgetFields, prefix: "budgets[\(k)].")
                    entries.append(.absolute(try TrainRequest.budget(from: nested, field: "budgets[\(k)]", of: o)))
                } else {
                    throw o.bad("budgets", "number or budget table expected at index \(k), got \(state.typeName(at: -1))")
                }
            }
            return entries
        }
    }

    /// `{ name = schedule, ... }` (sorted by name) or `{ { "name", schedule }, ... }` (in order).
    static func readSchedules(_ o: LuaOptions) throws -> [(String, Schedule)] {
        try o.withField("schedules") { index in
            let state = o.state
            guard let index, state.type(at: index) == LUA_TTABLE else {
                throw o.mismatch("schedules", expected: "table of name = schedule")
            }
            var list: [(String, Schedule)] = []
            let count = Int(lua_rawlen(state.L, index))
            if count > 0 {
                for k in 1...count {
                    lua_rawgeti(state.L, index, lua_Integer(k))
                    defer { state.pop() }
                    guard state.type(at: -1) == LUA_TTABLE else { throw o.bad("schedules", "entry \(k): { \"name\", schedule } expected") }
                    lua_rawgeti(state.L, -1, 1)
                    let name = state.string(at: -1)
                    state.pop()
                    lua_rawgeti(state.L, -1, 2)
                    defer { state.pop() }
                    guard let name, !name.isEmpty, let s = state.schedule(at: -1) else {
                        throw o.bad("schedules", "entry \(k): { \"name\", schedule } expected")
                    }
                    list.append((name, s))
                }
            } else {
                lua_pushnil(state.L)
                while lua_next(state.L, index) != 0 {
                    defer { state.pop() }
                    guard state.type(at: -2) == LUA_TSTRING, let name = state.string(at: -2) else {
                        throw o.bad("schedules", "keys must be schedule names (strings)")
                    }
                    guard let s = state.schedule(at: -1) else {
                        throw o.bad("schedules", "'\(name)': schedule or function expected, got \(state.typeName(at: -1))")
                    }
                    list.append((name, s))
                }
                list.sort { $0.0 < $1.0 }
            }
            guard !list.isEmpty else { throw o.bad("schedules", "at least one schedule expected") }
            for (name, _) in list where name.contains("/") || name.contains(",") {
                throw o.bad("schedules", "schedule name '\(name)' may not contain '/' or ','")
            }
            return list
        }
    }

    /// Progress points in (0, 1], sorted.
    static func progressPoints(_ o: LuaOptions, _ key: String) throws -> [Double]? {
        guard let points = try o.numbers(key) else { return nil }
        for p in points where !(p > 0 && p <= 1) {
            throw o.bad(key, "progress points must be in (0, 1], got \(p)")
        }
        return points.sorted()
    }

    /// `vary = { field = { values } }`, fields in name order.
    static func readVaried(_ o: LuaOptions) throws -> [(name: String, values: [LuaValue])] {
        try o.withField("vary") { index in
            guard let index else { return [] }
            let state = o.state
            guard state.type(at: index) == LUA_TTABLE else { throw o.mismatch("vary", expected: "table of field = { values }") }
            var fields: [(name: String, values: [LuaValue])] = []
            lua_pushnil(state.L)
            while lua_next(state.L, index) != 0 {
                defer { state.pop() }
                guard state.type(at: -2) == LUA_TSTRING, let name = state.string(at: -2) else { throw o.bad("vary", "keys must be field names") }
                guard !VariedFields.reserved.contains(name), !ResultsTable.columns.contains(name) else {
                    throw o.bad("vary", "'\(name)' is already a column of results.csv; vary seeds, schedules and budgets through their own fields")
                }
                guard state.type(at: -1) == LUA_TTABLE, lua_rawlen(state.L, -1) > 0 else { throw o.bad("vary", "'\(name)': a list of values expected") }
                var values: [LuaValue] = []
                for k in 1...Int(lua_rawlen(state.L, -1)) {
                    lua_rawgeti(state.L, -1, lua_Integer(k))
                    defer { state.pop() }
                    if let n = state.integer(at: -1), state.type(at: -1) == LUA_TNUMBER, lua_isinteger(state.L, -1) != 0 { values.append(.integer(n)) }
                    else if state.type(at: -1) == LUA_TNUMBER, let x = state.number(at: -1) { values.append(.number(x)) }
                    else if state.type(at: -1) == LUA_TSTRING, let s = state.string(at: -1) { values.append(.string(s)) }
                    else if state.type(at: -1) == LUA_TBOOLEAN, let b = state.boolean(at: -1) { values.append(.boolean(b)) }
                    else { throw o.bad("vary", "'\(name)': values must be numbers, strings or booleans") }
                }
                fields.append((name, values))
            }
            return fields.sorted { $0.name < $1.name }
        }
    }

    /// A varied value as it appears in run names and results.csv.
    static func text(_ value: LuaValue) -> String {
        switch value {
        case let .integer(n): return String(n)
        case let .number(x): return x.formatted
        case let .string(s): return s
        case let .boolean(b): return b ? "true" : "false"
        default: return "?"
        }
    }
}
