import BudgetEngine
import Foundation

/// Shows runs as they train (the CLI draws a progress bar from these calls).
public protocol RunProgressReporter: AnyObject {
    /// A run is about to start; the returned observer receives its steps.
    func runWillStart(label: String, budget: Budget) -> TrainingObserver?
    /// The run ended (`result` nil when it stopped with an error).
    func runDidFinish(label: String, result: RunResult?)
    /// A line for the user between runs (e.g. a sweep's run finished in a worker).
    func note(_ line: String)
}

/// How a sweep runs: where its workers come from and what bounds them.
public struct SweepSettings: Sendable {
    /// Continue the sweep in its folder (finished runs kept, failed ones tried again).
    public var resume = false
    /// Runs at once (this process and `jobs − 1` workers).
    public var jobs = 1
    /// BLAS and engine threads of each run.
    public var threadsPerRun = 1
    /// Arguments that start one worker process of this sweep's script.
    public var workerArguments: [String] = []
    public var heartbeatTimeout = WorkerPool.defaultHeartbeatTimeout
    /// Seconds one run may take; with a bound, every run trains in a worker process, which
    /// the sweep can kill when the bound passes.
    public var runTimeout: Double?
    /// Train only this part of each grid (`--shard K/N`); results.csv and the report are then
    /// left to `budgetrain report`, which rebuilds them from every shard's records.
    public var shard: Shard?

    public init() {}
}

/// A sweep stopped by a signal: every run checkpointed, and `--resume` continues it.
public struct SweepInterrupted: Error, CustomStringConvertible {
    public let signal: Int32
    public let message: String
    public var description: String { message }
}

/// A sweep that ended with failed runs; its message says which.
public struct SweepRunsFailed: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// Carries out one experiment: locks its folder, checks that a resumed sweep is the same
/// sweep, trains every run still to run (here, or in worker processes), and derives
/// `results.csv`, `summary.md` and `report.html` from the runs' records.
public final class Sweep {
    public let runner: ExperimentRunner
    public let identity: SweepIdentity
    public let settings: SweepSettings
    public weak var progress: RunProgressReporter?
    /// Called after each run this process trained (the Lua host collects garbage there).
    public var afterLocalRun: () -> Void = {}
    /// Train only these runs of the plan (nil: every run); the others' records are kept and
    /// stay in results.csv. A search trains its plan one rung at a time.
    public var onlyRuns: Set<String>?

    private var lock: SweepLock?
    private var records: [String: ResultRow] = [:]
    private var failures: [ResultRow] = []

    public init(runner: ExperimentRunner, identity: SweepIdentity, settings: SweepSettings) {
        self.runner = runner
        self.identity = identity
        self.settings = settings
    }

    var plan: ExperimentPlan { runner.plan }
    var directory: String { runner.directory }

    /// Runs the sweep; `writeConfiguration` records its resolved configuration once the
    /// folder is locked. Returns the summary (also in `summary.md`).
    public func run(writeConfiguration: () throws -> Void) throws -> String {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let locks = try SweepLock.forSweep(directory: directory, shard: settings.shard)
        defer { withExtendedLifetime(locks) {} }
        lock = locks.last
        let shard = settings.shard
        let trunks = runner.trunks
        let cells = (shard.map { plan.shard($0.index, of: $0.count) { trunks.trunks[$0.run] ?? $0.run } } ?? plan.cells)
            .filter { onlyRuns?.contains($0.run) ?? true }
        runner.owner = shard.map { "shard \($0) on \(ProcessInfo.processInfo.hostName)" } ?? "pid \(getpid()) on \(ProcessInfo.processInfo.hostName)"
        if settings.resume || shard != nil {
            try identity.check(against: directory)
        } else if runner.hasResults() {
            throw EngineError.invalidArgument("\(directory) already holds results of an earlier sweep; pass --resume to finish it, or --out to write elsewhere")
        }
        if shard == nil {
            try identity.write(to: directory)
            try writeConfiguration()
        } else {
            // Shards may start at once on several hosts: the first creates the description.
            try identity.write(to: directory, ifAbsent: true)
            try identity.check(against: directory)
        }
        records = try runner.records()
        let mine = Set(cells.map(\.run))
        let pending = try runner.pending(retryFailed: settings.resume).filter { mine.contains($0.run) }
        if pending.count < cells.count {
            progress?.note("\(plan.name)\(shard.map { " shard \($0)" } ?? ""): resuming, \(cells.count - pending.count) of \(cells.count) runs already finished")
        }
        // Trunks first: their branches continue from the checkpoints they leave.
        let phases = [pending.filter { trunks.isTrunk($0.run) }, pending.filter { !trunks.isTrunk($0.run) }]
        for phase in phases where !phase.isEmpty && !StopRequest.isRequested {
            if settings.jobs > 1 || settings.runTimeout != nil {
                try runInWorkers(phase)
            } else {
                try runHere(phase)
            }
        }
        let finished = cells.filter { records[$0.run] != nil }.count
        let summary: String
        if let shard {
            summary = "\(plan.name): shard \(shard) has finished \(finished) of its \(cells.count) runs; `budgetrain report \(directory)` gathers every shard's results"
        } else {
            try writeResults()
            summary = try ExperimentReport.write(directories: [directory], to: directory)
        }
        if let signal = StopRequest.signal ?? (StopRequest.isRequested ? SIGTERM : nil), finished < cells.count {
            throw SweepInterrupted(signal: signal, message: "experiment '\(plan.name)' stopped with \(finished) of \(cells.count) runs finished; the others continue from their checkpoints with --resume")
        }
        if let first = failures.first {
            throw SweepRunsFailed(message: "experiment '\(plan.name)': \(failures.count) of \(plan.cells.count) runs failed; the first, \(first.run): \(first.extras["message"] ?? "?") (every message is in \(runner.table.path))")
        }
        return summary
    }

    /// One run after another in this process, with a progress bar.
    private func runHere(_ pending: [ExperimentCell]) throws {
        for cell in pending {
            guard !StopRequest.isRequested else { return }
            let label = "\(plan.name) [\(records.count + 1)/\(plan.cells.count)] \(cell.run)"
            let observer = progress?.runWillStart(label: label, budget: cell.budget.resolve(full: plan.fullBudget))
            let row = withExtendedLifetime(observer) { runner.run(cell, observer: observer) }
            afterLocalRun()
            progress?.runDidFinish(label: label, result: nil)
            if let row { try record(row) }
        }
    }

    /// `jobs` runs at once: this process trains one of them (unless runs are time-bounded),
    /// worker processes the others.
    private func runInWorkers(_ pending: [ExperimentCell]) throws {
        var pool = WorkerPool.Settings(arguments: settings.workerArguments, workers: settings.jobs)
        pool.heartbeatTimeout = settings.heartbeatTimeout
        pool.runTimeout = settings.runTimeout
        pool.lock = lock?.descriptor
        let workers = WorkerPool(settings: pool, jobs: pending.map { WorkerPool.Job(experiment: plan.name, cell: $0) })
        // This process trains with a worker's share of the threads (the same results as any
        // worker), and gets all of them back afterwards.
        let allThreads = ComputeThreads.count
        BLASLibrary.setThreads(settings.threadsPerRun)
        defer { BLASLibrary.setThreads(allThreads) }
        let local: ((WorkerPool.Job) -> WorkerPool.Outcome)? = settings.runTimeout != nil ? nil : { [self] job in
            defer { afterLocalRun() }
            return runner.run(job.cell).map { .finished($0) } ?? .interrupted
        }
        var recordError: Error?
        workers.run(local: local) { [self] job, outcome in
            do {
                switch outcome {
                case let .finished(row): try record(row)
                case let .failed(message): try record(runner.recordFailure(job.cell, message: message))
                case .interrupted: break
                }
            } catch {
                recordError = recordError ?? error
            }
        }
        if let recordError { throw recordError }
    }

    private func record(_ row: ResultRow) throws {
        records[row.run] = row
        if row.status == .failed { failures.append(row) }
        if settings.shard == nil { try writeResults() }
        progress?.note("\(plan.name) [\(records.count)/\(plan.cells.count)] \(Self.describe(row))")
    }

    @discardableResult
    private func writeResults() throws -> [ResultRow] {
        let rows = plan.cells.compactMap { records[$0.run] }
        try runner.table.write(rows)
        return rows
    }

    /// `linear-b0.25-s1: ok, 469 steps in 12.3 s, test accuracy 0.8712`.
    public static func describe(_ row: ResultRow) -> String {
        var line = "\(row.run): \(row.status.rawValue)"
        if row.status != .failed { line += ", \(row.steps) steps in \(String(format: "%.1f", row.seconds)) s" }
        if let a = row.testAccuracy { line += String(format: ", test accuracy %.4f", a) }
        if let step = row.trunkSteps, step == row.resumedFromStep {
            line += " (continued from its trunk at step \(step))"
        } else if let step = row.resumedFromStep {
            line += " (resumed from step \(step))"
        }
        if row.status != .ok, let m = row.extras["message"] { line += " (\(m.split(separator: "\n").first ?? ""))" }
        return line
    }
}
