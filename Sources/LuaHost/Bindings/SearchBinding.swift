import BudgetEngine
import BudgetExperiments
import Foundation

/// `search{...}`: successive halving or Hyperband over configurations, each rung training its
/// survivors at the rung's budget, carried out by `budgetrain run` after the script returns
/// (like `experiment{}`, through the same runner, workers and `--resume`).
///
/// ```lua
/// search {
///   name = "sh",
///   data = { train = train_part, test = validation },  -- the test set ranks the configurations
///   model = function(cfg) return mlp(cfg.width) end,
///   optimizer = optim.sgd { lr = 0.1, momentum = 0.9 },
///   schedule = schedule.linear(),                -- planned for each rung's budget ...
///   truncated = false,                           -- ... or (true) for max_budget, cut off early
///   vary = { lr = { 0.02, 0.1, 0.5 }, width = { 32, 128, 512 } },  -- or configurations / sample
///   max_budget = { epochs = 3 },
///   min_budget = 1 / 27,                         -- a fraction of max_budget, or a budget table
///   eta = 3,
///   hyperband = false,                           -- true: every bracket (Li et al. 2018)
///   continue = false,                            -- true: survivors continue from their last rung
///   reference = "grid",                          -- optional: an experiment{} whose full-budget runs measure the regret
/// }
/// ```
enum SearchBinding {
    static let fields = [
        "name", "data", "model", "loss", "optimizer", "batch_size", "schedule", "vary", "configurations", "sample",
        "max_budget", "min_budget", "eta", "hyperband", "bracket", "truncated", "continue", "seeds", "seed", "metric",
        "eval_at", "probes", "checkpoint", "reference",
    ]

    static func register(in registry: BindingRegistry, host: ScriptHost) throws {
        try registry.declaration("search", fields: fields, host: host, clash: "an experiment or search") { o, host in
            try SearchDeclaration(o, host: host)
        }
    }
}

/// A declared search: its configurations, brackets and rungs, and every run it may train.
public final class SearchDeclaration: CellServing {
    /// Every (bracket, rung, configuration, seed) the search may train, bracket by bracket and
    /// rung by rung; the search trains the survivors' cells of each rung in turn.
    public let plan: ExperimentPlan
    let structure: SearchStructure
    let configurations: SearchConfigurations
    let train: Dataset
    let test: Dataset?
    let probeData: Dataset?
    let model: ModelSource
    let makeLoss: () -> Loss
    let optimizer: OptimizerSpec
    let batchSize: Int
    /// The schedule every run uses (wrapped in `TruncatedSchedule` when `truncated`).
    let schedule: Schedule
    let maxBudget: Budget
    let minimumFraction: Double
    let truncated: Bool
    let continues: Bool
    let seeds: [UInt64]
    let seed: UInt64
    let metric: String
    let evaluateAt: [Double]
    let gradNormAt: [Double]
    let logsStepGradientNorm: Bool
    let checkpoint: CheckpointPolicy
    /// An experiment over the same configurations whose full-budget results measure the
    /// winner's regret (the report reads it from the same output folder).
    let reference: String?
    let position: String?
    /// Where each run of the plan stands.
    let cellsByRun: [String: Position]

    struct Position {
        /// Index into `structure.brackets`.
        var bracket: Int
        var rung: Int
        var configuration: Int
        var seed: UInt64
    }

    public var label: String { plan.name }

    init(_ o: LuaOptions, host: ScriptHost) throws {
        let name = try o.required("name", "string") { o.state.string(at: $0) }
        position = o.state.position(level: 1)
        (train, test) = try TrainRequest.readData(o)
        (model, makeLoss, optimizer, batchSize) = try DeclarationFields.readRunIngredients(o, host: host)
        let base = try o.schedule("schedule") ?? LinearSchedule()
        truncated = try o.boolean("truncated", default: false)
        schedule = truncated ? try TruncatedSchedule(base) : base
        continues = try o.boolean("continue", default: false)
        let seedValue = try o.integer("seed", default: 0)
        guard seedValue >= 0 else { throw o.bad("seed", "a seed >= 0 expected, got \(seedValue)") }
        seed = UInt64(seedValue)
        seeds = try DeclarationFields.readSeeds(o, host: host)
        guard !seeds.isEmpty, Set(seeds).count == seeds.count else { throw o.bad("seeds", "a list of distinct seeds expected") }
        metric = try o.string("metric", default: "test_accuracy")
        guard ResultRow.searchMetrics.contains(metric) else {
            throw o.bad("metric", "one of \(ResultRow.searchMetrics.joined(separator: ", ")) expected, got '\(metric)'")
        }
        if metric.hasPrefix("test"), test == nil {
            throw o.bad("data", "a search ranks configurations by \(metric): give data = { train = ..., test = validation set }")
        }
        evaluateAt = try ExperimentDeclaration.progressPoints(o, "eval_at") ?? [1.0]
        (gradNormAt, probeData, logsStepGradientNorm) = try DeclarationFields.readProbes(o, train: train)
        checkpoint = try TrainRequest.readCheckpoint(o, default: .experimentDefault).policy
        reference = try o.string("reference")

        guard let maxBudget = try TrainRequest.readBudget(o, key: "max_budget") else {
            throw o.mismatch("max_budget", expected: "budget table { epochs = n } | { iterations = n } | { examples = n } | { flops = f }")
        }
        if case .seconds = maxBudget { throw o.bad("max_budget", "a search's rungs need budgets in steps: epochs, iterations, examples or flops, not seconds") }
        self.maxBudget = maxBudget
        minimumFraction = try Self.minimumFraction(o, max: maxBudget)
        let eta = try o.integer("eta", default: 3)
        guard eta >= 2 else { throw o.bad("eta", "an integer >= 2 expected, got \(eta)") }
        let halvings = SearchStructure.maxHalvings(eta: eta, ratio: 1 / minimumFraction)
        guard halvings >= 1 else {
            throw o.bad("min_budget", "the minimum budget must be at most max_budget / eta (\(eta)) for a rung to halve at; it is \(minimumFraction.formatted) of max_budget")
        }
        configurations = try SearchConfigurations.read(o, seed: seed)
        do {
            structure = try SearchStructure(
                configurationCount: configurations.count, eta: eta, maxHalvings: halvings,
                hyperband: try o.boolean("hyperband", default: false), bracket: try o.integer("bracket"), seed: seed)
        } catch let error as EngineError {
            throw BindingError("bad argument #1 to 'search' (\(error.description))")
        }

        var cells: [ExperimentCell] = [], positions: [String: Position] = [:]
        for (b, bracket) in structure.brackets.enumerated() {
            for rung in bracket.rungs {
                for c in bracket.configurations {
                    for s in seeds {
                        let run = Self.runName(halvings: bracket.halvings, rung: rung.index, configuration: configurations.runText(c), seed: s)
                        let extras = configurations.pairs(c).map { ($0.name, ExperimentDeclaration.text($0.value)) }
                            + [("bracket", String(bracket.halvings)), ("rung", String(rung.index))]
                        cells.append(ExperimentCell(run: run, schedule: schedule.summary, budget: .fraction(rung.fraction), seed: s, extras: extras))
                        positions[run] = Position(bracket: b, rung: rung.index, configuration: c, seed: s)
                    }
                }
            }
        }
        do {
            plan = try ExperimentPlan(name: name, fullBudget: maxBudget, cells: cells, extraFields: configurations.fields + ["bracket", "rung"])
        } catch let error as EngineError {
            throw BindingError("bad argument #1 to 'search' (\(error.description))")
        }
        cellsByRun = positions
    }

    /// `min_budget` as a fraction of `max_budget`: a number, or a budget table in the same unit.
    static func minimumFraction(_ o: LuaOptions, max: Budget) throws -> Double {
        if let f = try? o.number("min_budget") {
            guard f > 0, f < 1 else { throw o.bad("min_budget", "a fraction of max_budget in (0, 1) expected, got \(f)") }
            return f
        }
        guard let min = try TrainRequest.readBudget(o, key: "min_budget") else {
            throw o.mismatch("min_budget", expected: "a fraction of max_budget, or a budget table of the same kind")
        }
        let ratio: Double?
        switch (min, max) {
        case let (.epochs(a), .epochs(b)), let (.examples(a), .examples(b)), let (.flops(a), .flops(b)): ratio = a / b
        case let (.iterations(a), .iterations(b)): ratio = Double(a) / Double(b)
        default: ratio = nil
        }
        guard let ratio else { throw o.bad("min_budget", "give it in the unit of max_budget (\(max)), or as a fraction of it") }
        guard ratio > 0, ratio < 1 else { throw o.bad("min_budget", "\(min) is not below max_budget (\(max))") }
        return ratio
    }

    /// The cells of configurations `configurations` at `rung` of bracket `bracket` (an index
    /// into `structure.brackets`), every seed.
    func cells(bracket: Int, rung: Int, configurations chosen: [Int]) -> [ExperimentCell] {
        let wanted = Set(chosen)
        return plan.cells.filter { cell in
            guard let p = cellsByRun[cell.run] else { return false }
            return p.bracket == bracket && p.rung == rung && wanted.contains(p.configuration)
        }
    }

    /// The run a cell stands for: the configuration's fields applied, the rung's budget, the
    /// schedule planned for it (or, truncated, for `max_budget`), and in `continue` mode the
    /// previous rung's final state.
    func spec(for cell: ExperimentCell, in directory: String) throws -> RunSpec {
        guard let p = cellsByRun[cell.run] else { throw HostError("search '\(plan.name)': no run named '\(cell.run)'") }
        var spec = try spec(configuration: p.configuration, seed: p.seed, fraction: structure.brackets[p.bracket].rungs[p.rung].fraction, run: cell.run)
        let rungs = structure.brackets[p.bracket].rungs
        if continues {
            spec.keepsFinalState = p.rung + 1 < rungs.count
            if p.rung > 0, let previous = previousRun(of: cell.run) {
                let path = RunFolder(path: directory + "/" + SafeName.folder(for: previous)).finalStatePath
                guard FileManager.default.fileExists(atPath: path) else {
                    throw HostError("search '\(plan.name)': \(cell.run) continues \(previous), whose final state \(path) is missing (train that rung again: remove its result.json)")
                }
                spec.continuing = try CheckpointFile.read(path: path)
            }
        }
        return spec
    }

    /// The run of configuration `c` and seed `seed` at the budget `fraction · max_budget`.
    func spec(configuration c: Int, seed: UInt64, fraction: Double, run: String) throws -> RunSpec {
        let fields = configurations.pairs(c)
        let applied = try VariedFields.apply(
            fields, to: .init(optimizer: optimizer, batchSize: batchSize, train: train), seed: seed, owner: "search '\(plan.name)'")
        let cfg: [(String, LuaValue)] = [
            ("seed", .integer(Int(truncatingIfNeeded: seed))), ("schedule", .string(schedule.summary)),
            ("budget", .number(fraction)), ("run", .string(run)),
        ] + fields.map { ($0.name, $0.value) }
        var spec = RunSpec(
            makeModel: model.builder(arguments: [.record(cfg)]), makeLoss: makeLoss, optimizer: applied.optimizer,
            train: applied.train, test: test, batchSize: applied.batchSize, budget: maxBudget.scaled(by: fraction),
            fullBudget: maxBudget, schedule: schedule, seed: seed, evaluateAt: evaluateAt, gradNormAt: gradNormAt, probeData: probeData)
        spec.checkpoint = checkpoint
        spec.logsStepGradientNorm = logsStepGradientNorm
        return try spec.resolvingBudgets()
    }

    /// The same configuration and seed at the previous rung of the same bracket.
    func previousRun(of run: String) -> String? {
        guard let p = cellsByRun[run], p.rung > 0 else { return nil }
        return Self.runName(halvings: structure.brackets[p.bracket].halvings, rung: p.rung - 1, configuration: configurations.runText(p.configuration), seed: p.seed)
    }

    /// `h3r0-lr=0.1-width=64-s1`: bracket `s = 3`, rung 0, the configuration, seed 1.
    static func runName(halvings: Int, rung: Int, configuration: String, seed: UInt64) -> String {
        "h\(halvings)r\(rung)-\(configuration)-s\(seed)"
    }

    public func run(in host: ScriptHost) throws {
        try SearchSweep(declaration: self, host: host).run()
    }

    /// Builds every configuration's model once and pushes one batch through it, at the
    /// smallest rung's budget; trains nothing.
    public func check(in host: ScriptHost) throws {
        var first: String?
        for c in 0..<configurations.count {
            let fraction = structure.brackets.first?.rungs.first?.fraction ?? 1
            do {
                let spec = try spec(configuration: c, seed: seeds[0], fraction: fraction, run: "check")
                let line = try DryRun.run(spec).line(budget: spec.budget, schedule: spec.schedule)
                first = first ?? line
            } catch {
                throw BindingError("search '\(plan.name)', configuration \(configurations.runText(c))\(position.map { " (declared at \($0))" } ?? ""): \(userMessage(for: error))")
            }
        }
        host.checkReports.append("search \(plan.name), \(configurations.count) configurations, \(structure.brackets.count) bracket(s): \(first ?? "")")
    }

    public func runCell(named run: String, observer: TrainingObserver?, directory: String) -> ResultRow? {
        let runner = ExperimentRunner(plan: plan, directory: directory) { [self] in try spec(for: $0, in: directory) }
        guard let cell = plan.cells.first(where: { $0.run == run }) else {
            let unknown = ExperimentCell(run: run, schedule: "", budget: .fraction(0), seed: 0)
            return try? runner.recordFailure(unknown, message: "search '\(plan.name)' has no run named '\(run)' (did the script change?)")
        }
        return runner.run(cell, observer: observer)
    }
}
