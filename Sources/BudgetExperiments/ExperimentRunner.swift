import BudgetEngine
import Foundation

/// Runs the cells of an experiment and writes its results folder:
///
///     <directory>/results.csv          one row per finished run, appended whole
///     <directory>/<run>/metrics.jsonl  per-step metrics and evaluations (written atomically)
///
/// A run that fails (its schedule returned NaN, its model threw) is recorded with status
/// `failed` and its message, and the sweep goes on; so is a diverging one (`diverged`).
/// With `resume`, runs already in results.csv are skipped and unfinished ones run again
/// from the start, so nothing is lost and nothing is appended twice.
public final class ExperimentRunner {
    public let plan: ExperimentPlan
    public let directory: String
    public let table: ResultsTable
    private let makeSpec: (ExperimentCell) throws -> RunSpec

    public init(plan: ExperimentPlan, directory: String, makeSpec: @escaping (ExperimentCell) throws -> RunSpec) {
        self.plan = plan
        self.directory = directory
        self.table = ResultsTable(path: directory + "/results.csv", extraColumns: plan.extraFields + ["message"])
        self.makeSpec = makeSpec
    }

    /// Creates the folder and the results header; returns the cells still to run. Without
    /// `resume`, refuses a folder that already holds results (they would be mixed).
    public func prepare(resume: Bool) throws -> [ExperimentCell] {
        let fm = FileManager.default
        if fm.fileExists(atPath: table.path), !resume {
            throw EngineError.invalidArgument("\(table.path) already holds results of an earlier sweep; pass --resume to finish it, or --out to write elsewhere")
        }
        try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try table.prepare()
        let done = Set(try ResultsTable.read(path: table.path).rows.filter { $0.experiment == plan.name }.map(\.run))
        return plan.cells.filter { !done.contains($0.run) }
    }

    /// Folder of one run's files.
    public func runDirectory(_ cell: ExperimentCell) -> String { directory + "/" + cell.run }

    /// Trains one cell and writes its metrics; never throws for the run's own failures (they
    /// become a `failed` row), only returns the row to record.
    public func run(_ cell: ExperimentCell, observer: TrainingObserver? = nil) -> ResultRow {
        var row = ResultRow(
            experiment: plan.name, run: cell.run, schedule: cell.schedule, budget: 0, budgetSteps: nil, seed: cell.seed,
            status: .failed, steps: 0, seconds: 0, finalLR: 0, trainLoss: nil, testLoss: nil, testAccuracy: nil,
            gradNorm: nil, extras: Dictionary(uniqueKeysWithValues: cell.extras.map { ($0.name, $0.value) }))
        do {
            let spec = try makeSpec(cell)
            let perEpoch = (spec.train.count + spec.batchSize - 1) / max(spec.batchSize, 1)
            let budgetSteps = spec.budget.steps(perEpoch: perEpoch)
            row.budgetSteps = budgetSteps
            row.budget = Self.fraction(of: spec.budget, full: plan.fullBudget, entry: cell.budget, perEpoch: perEpoch)
            let recorder = MetricsRecorder(budgetSteps: budgetSteps, next: observer)
            let trainer = Trainer(spec: spec, observer: recorder)
            let result: RunResult
            do {
                result = try trainer.run()
            } catch {
                try? writeMetrics(recorder, cell: cell)
                throw error
            }
            try writeMetrics(recorder, cell: cell)
            row.status = result.status
            row.steps = result.steps
            row.seconds = result.seconds
            row.finalLR = result.finalLearningRate
            row.trainLoss = result.trainLoss
            row.testLoss = result.testLoss
            row.testAccuracy = result.testAccuracy
            row.gradNorm = result.gradNorm
            if let m = result.message { row.extras["message"] = m }
        } catch {
            row.status = .failed
            row.extras["message"] = "\(error)"
        }
        return row
    }

    /// Appends a finished run to results.csv.
    public func record(_ row: ResultRow) throws { try table.append(row) }

    private func writeMetrics(_ recorder: MetricsRecorder, cell: ExperimentCell) throws {
        try AtomicFile.write(recorder.jsonLines(), to: runDirectory(cell) + "/metrics.jsonl")
    }

    /// A run's budget as a fraction of the full budget.
    static func fraction(of budget: Budget, full: Budget, entry: BudgetEntry, perEpoch: Int) -> Double {
        if case let .fraction(f) = entry { return f }
        switch (budget, full) {
        case let (.seconds(s), .seconds(f)): return s / f
        default:
            guard let b = budget.steps(perEpoch: perEpoch), let f = full.steps(perEpoch: perEpoch), f > 0 else { return 0 }
            return Double(b) / Double(f)
        }
    }
}
