import BudgetEngine
import Foundation

/// Trains the cells of an experiment, each in its own `RunFolder` under `directory`, and
/// derives `results.csv` from their records.
///
/// A run that fails (its schedule returned NaN, its model threw) is recorded with status
/// `failed` and its message, and the sweep goes on; so is a diverging one (`diverged`). A run
/// with a checkpoint continues from it; metrics written after the checkpoint are cut back.
public final class ExperimentRunner {
    public let plan: ExperimentPlan
    public let directory: String
    public let table: ResultsTable
    private let makeSpec: (ExperimentCell) throws -> RunSpec
    /// Who trains the runs, for their heartbeats (`status` shows it), e.g. `shard 2/4`.
    public var owner = "local"
    /// Which runs train the beginning of which others (none unless set).
    public var trunks = TrunkPlan()

    public init(plan: ExperimentPlan, directory: String, makeSpec: @escaping (ExperimentCell) throws -> RunSpec) {
        self.plan = plan
        self.directory = directory
        self.table = ResultsTable(path: directory + "/results.csv", extraColumns: plan.extraFields + ["message"])
        self.makeSpec = makeSpec
    }

    public func folder(_ cell: ExperimentCell) -> RunFolder { RunFolder(path: directory + "/" + SafeName.folder(for: cell.run)) }

    /// The records of the runs that ended, by run name.
    public func records() throws -> [String: ResultRow] {
        var out: [String: ResultRow] = [:]
        for cell in plan.cells {
            if let row = try folder(cell).readRecord() { out[cell.run] = row }
        }
        return out
    }

    /// The cells still to run: those without a record and, with `retryFailed`, failed ones.
    public func pending(retryFailed: Bool) throws -> [ExperimentCell] {
        let done = try records()
        return plan.cells.filter { cell in
            guard let row = done[cell.run] else { return true }
            return retryFailed && row.status == .failed
        }
    }

    /// Whether the folder already holds anything of a sweep (records, checkpoints, results).
    public func hasResults() -> Bool {
        FileManager.default.fileExists(atPath: table.path)
            || plan.cells.contains { FileManager.default.fileExists(atPath: folder($0).path) }
    }

    /// Trains one cell (from its checkpoint, if it has one) and writes its record; returns the
    /// record, or nil when a stop request interrupted the run (its checkpoint holds it). The
    /// run's own failures become a `failed` record, never an error.
    public func run(_ cell: ExperimentCell, observer: TrainingObserver? = nil) -> ResultRow? {
        var row = Self.row(for: cell, experiment: plan.name)
        let files = folder(cell)
        do {
            let spec = try makeSpec(cell)
            let perEpoch = (spec.train.count + spec.batchSize - 1) / max(spec.batchSize, 1)
            let budgetSteps = spec.budget.steps(perEpoch: perEpoch)
            row.budgetSteps = budgetSteps
            row.budget = Self.fraction(of: spec.budget, full: plan.fullBudget, entry: cell.budget, perEpoch: perEpoch)
            let checkpoint = try files.readCheckpoint()
            let heartbeat = RunHeartbeat(
                path: files.heartbeatPath, owner: owner, budgetSteps: budgetSteps,
                startStep: checkpoint?.info["run.step"].flatMap { Int($0) } ?? 0, next: observer)
            let metrics = try MetricsLog(
                path: files.metricsPath, thinning: .thinned(budgetSteps: budgetSteps), eventsPath: files.eventsPath,
                resume: checkpoint.flatMap { MetricsLog.Checkpoint(info: $0.info) }, next: heartbeat)
            let trainer = Trainer(spec: spec, observer: metrics)
            trainer.checkpointSink = RunCheckpointWriter(path: files.checkpointPath, metrics: metrics)
            trainer.resumeState = checkpoint
            if checkpoint == nil { trainer.branches = try branches(of: cell) }
            if spec.keepsFinalState { trainer.finalStateSink = RunCheckpointWriter(path: files.finalStatePath, metrics: nil) }
            let result = try withExtendedLifetime((metrics, heartbeat)) { try trainer.run() }
            try metrics.flush()
            if result.status == .interrupted { return nil }
            row.fill(from: result)
        } catch {
            row.status = .failed
            row.extras["message"] = "\(error)"
        }
        do { try files.writeRecord(row) } catch {
            row.status = .failed
            row.extras["message"] = "its record could not be written: \(error)"
        }
        return row
    }

    /// The runs that branch from `cell`'s trunk and have not started: the trainer keeps their
    /// accounts (into their own folders' metrics) and writes their checkpoints at their
    /// branch points. (The sweep trains trunks before anything else, so no other process
    /// touches these folders meanwhile.)
    private func branches(of cell: ExperimentCell) throws -> [Trainer.Branch] {
        try (trunks.branches[cell.run] ?? []).compactMap { branch in
            guard let branchCell = plan.cells.first(where: { $0.run == branch.run }) else { return nil }
            let files = folder(branchCell)
            guard try files.readRecord() == nil, !FileManager.default.fileExists(atPath: files.checkpointPath) else { return nil }
            let spec = try makeSpec(branchCell)
            let metrics = try MetricsLog(path: files.metricsPath, thinning: .thinned(budgetSteps: spec.budgetSteps), eventsPath: files.eventsPath)
            return Trainer.Branch(spec: spec, steps: branch.steps, observer: metrics, sink: RunCheckpointWriter(path: files.checkpointPath, metrics: metrics))
        }
    }

    /// Records a run that could not be trained (its worker died on every attempt).
    public func recordFailure(_ cell: ExperimentCell, message: String) throws -> ResultRow {
        var row = Self.row(for: cell, experiment: plan.name)
        row.extras["message"] = message
        try folder(cell).writeRecord(row)
        return row
    }

    /// Rebuilds results.csv from the records on disk, in plan order: the same bytes whatever
    /// order the runs finished in and whichever processes trained them.
    @discardableResult
    public func writeResultsTable() throws -> [ResultRow] {
        let done = try records()
        let rows = plan.cells.compactMap { done[$0.run] }
        try table.write(rows)
        return rows
    }

    /// An empty (failed) record of `cell`, to be filled in.
    public static func row(for cell: ExperimentCell, experiment: String) -> ResultRow {
        ResultRow(
            experiment: experiment, run: cell.run, schedule: cell.schedule, budget: 0, budgetSteps: nil, seed: cell.seed,
            status: .failed, steps: 0, seconds: 0, finalLR: 0, trainLoss: nil, testLoss: nil, testAccuracy: nil,
            gradNorm: nil, extras: Dictionary(cell.extras.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a }))
    }

    /// A run's budget as a fraction of the full budget.
    static func fraction(of budget: Budget, full: Budget, entry: BudgetEntry, perEpoch: Int) -> Double {
        if case let .fraction(f) = entry { return f }
        switch (entry, full) {
        case let (.absolute(.examples(b)), .examples(f)), let (.absolute(.flops(b)), .flops(f)): return b / f
        default: break
        }
        switch (budget, full) {
        case let (.seconds(s), .seconds(f)): return s / f
        default:
            guard let b = budget.steps(perEpoch: perEpoch), let f = full.steps(perEpoch: perEpoch), f > 0 else { return 0 }
            return Double(b) / Double(f)
        }
    }
}

extension ResultRow {
    mutating func fill(from result: RunResult) {
        status = result.status
        steps = result.steps
        seconds = result.seconds
        finalLR = result.finalLearningRate
        trainLoss = result.trainLoss
        testLoss = result.testLoss
        testAccuracy = result.testAccuracy
        gradNorm = result.gradNorm
        (valLoss, valAccuracy) = (result.valLoss, result.valAccuracy)
        avgTestAccuracy = result.avgTestAccuracy
        avgTestLoss = result.avgTestLoss
        flops = result.flops
        if let steps = result.budgetSteps { budgetSteps = steps }
        resumedFromStep = result.resumedFromStep
        trunkSteps = result.trunkSteps
        if let m = result.message { extras["message"] = m }
    }
}
