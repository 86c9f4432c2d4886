import BudgetEngine
import BudgetExperiments

/// `lr_find{...}`: the learning-rate range test (Smith 2017, section 3.3; fastai's `lr_find`),
/// now, on a fresh model; see `LearningRateRangeTest` for the sweep, the smoothing, the early
/// stop and the rule of the suggested rate.
///
/// ```lua
/// local f = lr_find {
///   data = fm,                                   -- { train = ds, ... } or one dataset (its training set is used)
///   model = function() return models.mlp{} end, -- a factory: the sweep trains a fresh model
///   optimizer = optim.sgd { lr = 0.1, momentum = 0.9 },  -- its lr is ignored: the sweep sets it
///   batch_size = 128, min = 1e-6, max = 10, steps = 200, seed = 1,
/// }
/// print(f.suggestion, f.rule)                    -- 0.0501   the learning rate at the minimum ... divided by 10
/// ```
/// Under `budgetrain check` it sweeps nothing: it builds the model and pushes one batch through
/// it, and returns `{ status = "checked", ... }` with empty lists and a NaN suggestion.
enum LRFindBinding {
    static let fields = ["data", "model", "loss", "optimizer", "batch_size", "min", "max", "steps", "seed"]

    static func register(in registry: BindingRegistry, host: ScriptHost) throws {
        try registry.function("lr_find") { [weak host] args in
            guard let host else { throw HostError("the script host no longer exists") }
            guard !args.isNil(1) else { throw args.mismatch(1, expected: "table") }
            let o = try args.options(1, fields: fields)
            try args.noMore(than: 1)
            let (spec, settings) = try request(o, host: host)
            switch host.options.mode {
            case .check:
                let report = try DryRun.run(spec)
                host.checkReports.append("lr_find: \(report.modelSummary), \(report.parameterCount) parameters, \(settings.steps) rates from \(settings.minLR) to \(settings.maxLR): OK")
                return table(nil, settings: settings, seed: spec.seed)
            case .run:
                let result = try LearningRateRangeTest.run(spec, settings: settings)
                host.collectGarbage()
                return table(result, settings: settings, seed: spec.seed)
            }
        }
    }

    /// The run spec and sweep settings of an `lr_find{}` call, checked field by field.
    static func request(_ o: LuaOptions, host: ScriptHost) throws -> (RunSpec, LearningRateRangeTest.Settings) {
        let (train, _) = try TrainRequest.readData(o)
        let model = try ModelSource(o, host: host)
        if model.isModule {
            throw o.bad("model", "the sweep would wreck a module's weights at its largest rates; pass a factory that builds a fresh model, e.g. model = function() return nn.Sequential { ... } end")
        }
        guard let optimizer = try o.object("optimizer", as: OptimizerHandle.self) else {
            throw o.mismatch("optimizer", expected: "optimizer (e.g. optim.sgd { lr = 0.1 })")
        }
        let batchSize = try o.integer("batch_size", default: 128)
        guard batchSize > 0 else { throw o.bad("batch_size", "a positive integer expected, got \(batchSize)") }
        let seed = try o.integer("seed") ?? Int(truncatingIfNeeded: host.options.seed)
        guard seed >= 0 else { throw o.bad("seed", "a seed >= 0 expected, got \(seed)") }
        var settings = LearningRateRangeTest.Settings()
        settings.minLR = try o.number("min", default: settings.minLR)
        settings.maxLR = try o.number("max", default: settings.maxLR)
        settings.steps = try o.integer("steps", default: settings.steps)
        guard settings.minLR > 0, settings.minLR.isFinite else { throw o.bad("min", "a positive learning rate expected, got \(settings.minLR)") }
        guard settings.maxLR > settings.minLR, settings.maxLR.isFinite else {
            throw o.bad("max", "a finite learning rate above min (\(settings.minLR)) expected, got \(settings.maxLR)")
        }
        guard settings.steps >= 2, settings.steps <= LearningRateRangeTest.Settings.maximumSteps else {
            throw o.bad("steps", "2 ... \(LearningRateRangeTest.Settings.maximumSteps) steps expected, got \(settings.steps)")
        }
        let spec = RunSpec(
            makeModel: model.builder(arguments: []), makeLoss: try o.object("loss", as: LossHandle.self)?.make ?? { CrossEntropy() },
            optimizer: optimizer.spec, train: train, test: nil, batchSize: batchSize, budget: .iterations(settings.steps),
            schedule: ConstantSchedule(), seed: UInt64(seed), evaluateAt: [])
        return (spec, settings)
    }

    /// The table `lr_find{}` returns (a checked one when `result` is nil).
    static func table(_ result: LearningRateRangeTest.Result?, settings: LearningRateRangeTest.Settings, seed: UInt64) -> LuaValue {
        let points = result?.points ?? []
        let stopped: String
        switch result?.ending {
        case .completed: stopped = "completed"
        case .lossExploded: stopped = "loss exploded"
        case .lossNotFinite: stopped = "loss not finite"
        case nil: stopped = "checked"
        }
        return .record([
            ("status", .string(result == nil ? "checked" : "ok")),
            ("lrs", .array(points.map { .number($0.learningRate) })),
            ("losses", .array(points.map { .number($0.loss) })),
            ("smoothed", .array(points.map { .number($0.smoothed) })),
            ("steps", .integer(points.count)),
            ("stopped", .string(stopped)),
            ("min_loss_lr", .number(result?.minimum?.learningRate ?? .nan)),
            ("min_smoothed_loss", .number(result?.minimum?.smoothed ?? .nan)),
            ("suggestion", .number(result?.suggestion ?? .nan)),
            ("rule", .string(LearningRateRangeTest.Result.rule)),
            ("min", .number(settings.minLR)),
            ("max", .number(settings.maxLR)),
            ("seed", .integer(Int(truncatingIfNeeded: seed))),
        ])
    }
}

extension ExperimentDeclaration {
    /// What `budgetrain lr-find` sweeps for this experiment: the spec of its first run (its
    /// data, model factory called with the first run's configuration, loss, optimizer, batch
    /// size and seed; the first value of each varied field).
    public func rangeTestSpec() throws -> RunSpec {
        guard let first = plan.cells.first else { throw HostError("experiment '\(plan.name)' has no runs") }
        return try spec(for: first)
    }
}
