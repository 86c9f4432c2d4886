import BudgetEngine
import BudgetExperiments
import CLua
import Foundation

/// `train{...}`: one training run, now, returning its result table.
///
/// ```lua
/// local r = train {
///   data = fm,                                  -- { train = ds, test = ds } or one dataset
///   model = function() return models.mlp{} end, -- a factory (fresh seeded weights) or a module
///   optimizer = optim.sgd { lr = 0.1, momentum = 0.9 },
///   budget = { epochs = 2 },                    -- or { iterations = n } or { seconds = s }
///   schedule = schedule.linear(),               -- or any function(p, ctx)
///   checkpoint = { every = 0.1 },               -- optional; with --resume, continue from it
/// }
/// print(r.test_accuracy, r.status)
/// ```
/// In check mode (`budgetrain check`) it trains nothing: it builds the model, pushes one batch
/// through it and evaluates the schedule at a few points (see `DryRun`).
enum TrainBinding {
    static let fields = [
        "data", "model", "loss", "optimizer", "batch_size", "budget", "full_budget", "schedule",
        "seed", "eval_every", "log", "name", "checkpoint", "average",
    ]

    static func register(in registry: BindingRegistry, host: ScriptHost) throws {
        try registry.function("train") { [weak host] args in
            guard let host else { throw HostError("the script host no longer exists") }
            guard !args.isNil(1) else { throw args.mismatch(1, expected: "table") }
            let o = try args.options(1, fields: fields)
            try args.noMore(than: 1)
            let position = args.state.position(level: 1)
            let request = try TrainRequest(o, host: host)
            let label = request.name ?? "train" + (position.map { " at \($0)" } ?? "")
            switch host.options.mode {
            case .check:
                let report = try DryRun.run(request.spec)
                host.checkReports.append("\(label): \(report.line(budget: request.spec.budget, schedule: request.spec.schedule))")
                host.completedRuns += 1
                return checkedTable(report, request: request)
            case .run:
                let result = try request.run(label: label, host: host)
                host.completedRuns += 1
                host.collectGarbage()
                return resultTable(result, request: request)
            }
        }
    }

    /// The table `train{}` returns under `budgetrain check`. The fields of a trained run's table
    /// are there too, NaN where only training could tell, so that a script printing its results
    /// runs unchanged under `budgetrain check`.
    static func checkedTable(_ report: DryRun.Report, request: TrainRequest) -> LuaValue {
        let hasTest = request.spec.test != nil
        let fields: [(String, LuaValue)] = [
            ("status", .string("checked")),
            ("parameters", .integer(report.parameterCount)),
            ("steps", report.steps.map { .integer($0) } ?? .null),
            ("output_shape", .array(report.outputShape.dropFirst().map { .integer($0) })),
            ("seconds", .number(0)),
            ("schedule_seconds", .number(0)),
            ("final_lr", .number(.nan)),
            ("train_loss", .number(.nan)),
            ("test_loss", hasTest ? .number(.nan) : .null),
            ("test_accuracy", hasTest ? .number(.nan) : .null),
            ("val_loss", request.spec.validation != nil ? .number(.nan) : .null),
            ("val_accuracy", request.spec.validation != nil ? .number(.nan) : .null),
            ("seed", .integer(Int(truncatingIfNeeded: request.spec.seed))),
            ("evaluations", .array([])),
        ]
        let averaged: [(String, LuaValue)] = request.spec.averaging != nil && hasTest
            ? [("avg_test_loss", .number(.nan)), ("avg_test_accuracy", .number(.nan))] : []
        return .record(fields + averaged)
    }

    /// The result table a script receives.
    static func resultTable(_ r: RunResult, request: TrainRequest) -> LuaValue {
        var fields: [(String, LuaValue)] = [
            ("status", .string(r.status.rawValue)),
            ("steps", .integer(r.steps)),
            ("seconds", .number(r.seconds)),
            ("final_lr", .number(r.finalLearningRate)),
            ("train_loss", .number(r.trainLoss)),
            ("test_loss", .optional(r.testLoss)),
            ("test_accuracy", .optional(r.testAccuracy)),
            ("val_loss", .optional(r.valLoss)),
            ("val_accuracy", .optional(r.valAccuracy)),
            ("avg_test_loss", .optional(r.avgTestLoss)),
            ("avg_test_accuracy", .optional(r.avgTestAccuracy)),
            ("seed", .integer(Int(truncatingIfNeeded: request.spec.seed))),
            // Time inside the schedule: what a Lua function schedule costs.
            ("schedule_seconds", .number(r.scheduleSeconds)),
            // When the first step began (seconds since 1970): start-up time, for benchmarks.
            ("started_at", .optional(r.firstStepTime)),
            // Time inside sgemm, when BUDGETRAIN_PROFILE_GEMM is set.
            ("gemm_seconds", .optional(r.gemmSeconds)),
        ]
        if let message = r.message { fields.append(("message", .string(message))) }
        fields.append(("evaluations", .array(r.evaluations.map { e in
            .record([
                ("step", .integer(e.step)), ("progress", .number(e.progress)),
                ("train_loss", .optional(e.trainLoss)), ("test_loss", .optional(e.testLoss)),
                ("test_accuracy", .optional(e.testAccuracy)),
                ("val_loss", .optional(e.valLoss)), ("val_accuracy", .optional(e.valAccuracy)),
                ("avg_test_loss", .optional(e.avgTestLoss)), ("avg_test_accuracy", .optional(e.avgTestAccuracy)),
            ])
        })))
        return .record(fields)
    }
}

/// The fields of a `train{}` call, read and checked before anything runs.
struct TrainRequest {
    var spec: RunSpec
    var name: String?
    var logPath: String?
    /// Where checkpoints go (nil: the run saves none).
    var checkpointPath: String?
    /// Continue from the checkpoint at `checkpointPath` if there is one (`--resume`).
    var resume: Bool

    init(_ o: LuaOptions, host: ScriptHost) throws {
        let (train, test) = try Self.readData(o)
        let model = try Self.readModel(o, host: host)
        let loss = try o.object("loss", as: LossHandle.self)
        guard let optimizer = try o.object("optimizer", as: OptimizerHandle.self) else {
            throw o.mismatch("optimizer", expected: "optimizer (e.g. optim.sgd { lr = 0.1 })")
        }
        let batchSize = try o.integer("batch_size", default: 128)
        guard batchSize > 0 else { throw o.bad("batch_size", "a positive integer expected, got \(batchSize)") }
        guard let budget = try Self.readBudget(o, key: "budget") else {
            throw o.mismatch("budget", expected: "table { epochs = n } | { iterations = n } | { seconds = s }")
        }
        let fullBudget = try Self.readBudget(o, key: "full_budget")
        // A schedule-free optimizer has no schedule unless one is given.
        let schedule = try o.schedule("schedule") ?? (optimizer.spec.providesEvaluationWeights ? ConstantSchedule() : LinearSchedule())
        let seed = try o.integer("seed") ?? Int(truncatingIfNeeded: host.options.seed)
        guard seed >= 0 else { throw o.bad("seed", "a seed >= 0 expected, got \(seed)") }
        var evaluateAt = [1.0]
        if let every = try o.number("eval_every") {
            guard every >= 1e-4, every <= 1 else { throw o.bad("eval_every", "a fraction of the budget in [0.0001, 1] expected, got \(every)") }
            evaluateAt = Self.progressPoints(every: every)
        }
        name = try o.string("name")
        logPath = try o.string("log")
        let checkpoint = try Self.readCheckpoint(o, default: .none, allowPath: true)
        if checkpoint.enabled {
            checkpointPath = checkpoint.path
                ?? host.sweepDirectory(for: name ?? "train") + "/checkpoint.safetensors"
        }
        resume = host.options.sweep.resume
        spec = RunSpec(
            makeModel: model, makeLoss: loss?.make ?? { CrossEntropy() }, optimizer: optimizer.spec,
            train: train, test: test, batchSize: batchSize, budget: budget, fullBudget: fullBudget,
            schedule: schedule, seed: UInt64(seed), evaluateAt: evaluateAt)
        spec.checkpoint = checkpoint.policy
        spec.validation = try Self.readValidation(o)
        spec.averaging = try AverageBinding.read(o, optimizer: optimizer.spec)
    }

    /// `checkpoint = { every = f }` (a fraction of the budget), `{ seconds = s }` (of
    /// training), both, `true` (`fallback`'s policy) or `false` (none); train{} also takes
    /// `path`. Absent: `fallback`.
    static func readCheckpoint(
        _ o: LuaOptions, default fallback: CheckpointPolicy, allowPath: Bool = false
    ) throws -> (policy: CheckpointPolicy, path: String?, enabled: Bool) {
        let absent = (policy: fallback, path: String?.none, enabled: fallback != .none)
        if let flag = try? o.boolean("checkpoint") { return flag ? (fallback, nil, true) : (.none, nil, false) }
        let fields = ["every", "seconds"] + (allowPath ? ["path"] : [])
        return try o.nested("checkpoint", fields: fields) { c in
            guard let c else { return absent }
            let policy = CheckpointPolicy(fraction: try c.number("every"), seconds: try c.number("seconds"))
            do { try policy.validate() } catch { throw o.bad("checkpoint", userMessage(for: error)) }
            let path = allowPath ? try c.string("path") : nil
            // A table without a period (only a path, say) checkpoints on stop requests only.
            return (policy, path, true)
        }
    }

    /// `1·every, 2·every, ..., 1` (the end of the run is always included).
    static func progressPoints(every: Double) -> [Double] {
        let n = Int((1 / every + 1e-9).rounded(.down))
        var points = (1...max(n, 1)).map { Double($0) * every }.filter { $0 < 1 - 1e-9 }
        points.append(1)
        return points
    }

    /// `data = ds` or `data = { train = ds, test = ds }`.
    static func readData(_ o: LuaOptions) throws -> (Dataset, Dataset?) {
        let state = o.state
        return try o.withField("data") { index in
            guard let index else { throw o.mismatch("data", expected: "table { train = Dataset, test = Dataset } or Dataset") }
            if let d = state.object(at: index, as: DatasetHandle.self) { return (d.dataset, nil) }
            guard state.type(at: index) == LUA_TTABLE else {
                throw o.mismatch("data", expected: "table { train = Dataset, test = Dataset } or Dataset")
            }
            let sets = try LuaOptions(validating: index, state: state, function: o.function, fields: dataFields, prefix: "data.")
            guard let train = try sets.object("train", as: DatasetHandle.self) else {
                throw sets.mismatch("train", expected: "Dataset")
            }
            let test = try sets.object("test", as: DatasetHandle.self)
            if let test, test.dataset.sampleShape != train.dataset.sampleShape {
                throw o.bad("data", "test examples are \(test.dataset.sampleShape.shapeString) but training examples are \(train.dataset.sampleShape.shapeString)")
            }
            return (train.dataset, test?.dataset)
        }
    }

    /// `model = function() ... end` (a factory, called once per run with the initialisation
    /// generator seeded from the run's seed) or `model = module` (used as it is).
    static func readModel(_ o: LuaOptions, host: ScriptHost) throws -> (inout RandomGenerator) throws -> Layer {
        try ModelSource(o, host: host).builder(arguments: [])
    }
    /// `{ epochs = e }`, `{ iterations = n }`, `{ seconds = s }`, `{ examples = n }` or
    /// `{ flops = f }` in field `key`.
    static func readBudget(_ o: LuaOptions, key: String) throws -> Budget? {
        try o.nested(key, fields: budgetFields) { b in try b.map { try budget(from: $0, field: key, of: o) } }
    }

    static let budgetFields = ["epochs", "iterations", "seconds", "examples", "flops"]

    /// The budget a budget table `b` (read with `budgetFields`) states; errors name `field` of `o`.
    /// `{ examples = n }` and `{ flops = f }` become steps when the run is made (see
    /// `Budget.resolved`): `n / batch_size`, and `f` over the FLOPs of one step of the model.
    static func budget(from b: LuaOptions, field: String, of o: LuaOptions) throws -> Budget {
        let epochs = try b.number("epochs"), iterations = try b.integer("iterations"), seconds = try b.number("seconds")
        let examples = try b.number("examples"), flops = try b.number("flops")
        let given = [epochs != nil, iterations != nil, seconds != nil, examples != nil, flops != nil].filter { $0 }.count
        guard given == 1 else {
            throw o.bad(field, "exactly one of epochs, iterations, seconds, examples or flops expected, got \(given)")
        }
        let budget: Budget = epochs.map { .epochs($0) } ?? iterations.map { .iterations($0) } ?? seconds.map { .seconds($0) }
            ?? examples.map { .examples($0) } ?? .flops(flops ?? 0)
        do { try budget.validate() } catch { throw o.bad(field, userMessage(for: error)) }
        return budget
    }

    /// Trains, with the progress reporter and the step log (if any) observing; checkpoints
    /// to `checkpointPath` (continuing from it with `--resume`). A stop request ends the
    /// script with `RunInterrupted` once the checkpoint is saved.
    func run(label: String, host: ScriptHost) throws -> RunResult {
        let resumeState = try checkpointPath.flatMap { path in
            resume && FileManager.default.fileExists(atPath: path) ? try CheckpointFile.read(path: path) : nil
        }
        var observers: [TrainingObserver] = []
        let log = try logPath.map { path in
            try MetricsLog(path: path, thinning: .none, resume: resumeState.flatMap { MetricsLog.Checkpoint(info: $0.info) })
        }
        if let log { observers.append(log) }
        if let progress = host.progress, let observer = progress.runWillStart(label: label, budget: spec.budget) {
            observers.append(observer)
        }
        let group = ObserverGroup(observers)
        let trainer = Trainer(spec: spec, observer: group)
        trainer.checkpointSink = checkpointPath.map { RunCheckpointWriter(path: $0, metrics: log) }
        trainer.resumeState = resumeState
        do {
            let result = try withExtendedLifetime(group) { try trainer.run() }
            try log?.flush()
            host.progress?.runDidFinish(label: label, result: result.status == .interrupted ? nil : result)
            if result.status == .interrupted {
                throw RunInterrupted(message: "\(label): stopped at step \(result.steps)" + (checkpointPath.map { "; its checkpoint \($0) continues it with --resume" } ?? ""))
            }
            if let checkpointPath { unlink(checkpointPath) }
            return result
        } catch let error as RunInterrupted {
            throw error
        } catch {
            host.progress?.runDidFinish(label: label, result: nil)
            throw error
        }
    }
}

/// A `train{}` run stopped by a signal: the script ends there (the CLI exits with 128 + the
/// signal's number).
public struct RunInterrupted: Error, UserFacingError {
    public let message: String
    public var description: String { message }
}

/// Forwards the trainer's calls to several observers.
final class ObserverGroup: TrainingObserver {
    let members: [TrainingObserver]
    init(_ members: [TrainingObserver]) { self.members = members }
    func didStep(_ record: StepRecord) { for m in members { m.didStep(record) } }
    func didEvaluate(_ record: EvaluationRecord) { for m in members { m.didEvaluate(record) } }
}
