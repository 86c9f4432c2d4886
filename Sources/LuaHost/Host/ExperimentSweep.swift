import BudgetEngine
import BudgetExperiments
import CLua
import Foundation

/// Carries out one declared experiment: checks it, runs every unfinished cell (in this
/// process or in worker processes), and writes its folder:
///
///     <out>/<name>/results.csv, <run>/metrics.jsonl, config.lua, config.json, summary.md, report.html
struct ExperimentSweep {
    let declaration: ExperimentDeclaration
    let host: ScriptHost

    var plan: ExperimentPlan { declaration.plan }
    var directory: String { host.options.outputDirectory + "/" + plan.name }

    func run() throws {
        // Shape errors and bad schedules surface now, before any compute is spent.
        try declaration.check(in: host)
        host.checkReports.removeAll()

        let runner = ExperimentRunner(plan: plan, directory: directory) { [declaration] in try declaration.spec(for: $0) }
        let pending = try runner.prepare(resume: host.options.resume)
        try recordConfiguration()
        let total = plan.cells.count
        var finished = total - pending.count
        var failures: [ResultRow] = []
        if finished > 0 { host.progress?.note("\(plan.name): resuming, \(finished) of \(total) runs already finished") }

        func record(_ row: ResultRow) throws {
            try runner.record(row)
            finished += 1
            if row.status == .failed { failures.append(row) }
            host.progress?.note("\(plan.name) [\(finished)/\(total)] \(Self.describe(row))")
        }

        if host.options.jobs > 1, pending.count > 1 {
            let pool = WorkerPool(
                executable: "/proc/self/exe", arguments: host.options.workerArguments, workers: host.options.jobs,
                jobs: pending.map { WorkerPool.Job(experiment: plan.name, cell: $0) })
            // This process trains one run at a time too, with a worker's share of the threads
            // (the same results as any worker), and gets all of them back afterwards.
            let allThreads = ComputeThreads.count
            BLASLibrary.setThreads(host.options.threads)
            defer { BLASLibrary.setThreads(allThreads) }
            var recordError: Error?
            pool.run(local: { job in
                defer { host.collectGarbage() }
                return runner.run(job.cell, observer: nil)
            }, onResult: { _, row in
                do { try record(row) } catch { recordError = recordError ?? error }
            })
            if let recordError { throw recordError }
        } else {
            for cell in pending {
                let label = "\(plan.name) [\(finished + 1)/\(total)] \(cell.run)"
                let observer = host.progress?.runWillStart(label: label, budget: cell.budget.resolve(full: plan.fullBudget))
                let row = withExtendedLifetime(observer) { runner.run(cell, observer: observer) }
                host.collectGarbage()
                host.progress?.runDidFinish(label: label, result: nil)
                try record(row)
            }
        }

        let summary = try ExperimentReport.write(directories: [directory], to: directory)
        print(summary)
        print("Results in \(directory)/ (results.csv, summary.md, report.html)")
        guard failures.isEmpty else {
            let first = failures[0]
            throw SweepFailure(message: "experiment '\(plan.name)': \(failures.count) of \(total) runs failed; the first, \(first.run): \(first.extras["message"] ?? "?") (every message is in \(runner.table.path))")
        }
    }

    /// `config.lua` (the script as run) and `config.json` (the resolved grid and the machine).
    /// On resume the script must be the one the sweep started with.
    private func recordConfiguration() throws {
        let scriptCopy = directory + "/config.lua"
        if let path = host.scriptPath, let source = FileManager.default.contents(atPath: path).flatMap({ String(data: $0, encoding: .utf8) }) {
            if host.options.resume, let previous = try? String(contentsOfFile: scriptCopy, encoding: .utf8), previous != source {
                throw SweepFailure(message: "\(path) differs from \(scriptCopy), the script this sweep started with; resuming would mix two configurations (use --out for a new sweep)")
            }
            try AtomicFile.write(source, to: scriptCopy)
        }
        let json = try JSONSerialization.data(withJSONObject: configuration(), options: [.prettyPrinted, .sortedKeys])
        try AtomicFile.write(String(decoding: json, as: UTF8.self) + "\n", to: directory + "/config.json")
    }

    private func configuration() -> [String: Any] {
        let schedules = plan.cells.map(\.schedule).uniqued().map { name in
            ["name": name, "schedule": declaration.schedules[name]?.summary ?? "?"]
        }
        var settings: [String: Any] = declaration.optimizer.settings
        settings["description"] = declaration.optimizer.description
        let modelTree: String = {
            guard let cell = plan.cells.first, let spec = try? declaration.spec(for: cell) else { return "?" }
            var rng = RandomGenerator(seed: cell.seed)
            return (try? spec.makeModel(&rng).treeDescription(inputShape: [spec.batchSize] + spec.train.sampleShape)) ?? "?"
        }()
        return [
            "experiment": plan.name,
            "script": host.scriptPath ?? "",
            "script_arguments": host.scriptArguments,
            "full_budget": plan.fullBudget.description,
            "budgets": plan.cells.map(\.budget.label).uniqued(),
            "schedules": schedules,
            "seeds": plan.cells.map { Int(truncatingIfNeeded: $0.seed) }.uniqued(),
            "varied": declaration.varied.map { ["field": $0.name, "values": $0.values.map(ExperimentDeclaration.text)] },
            "runs": plan.cells.count,
            "batch_size": declaration.batchSize,
            "optimizer": settings,
            "loss": declaration.makeLoss().summary,
            "model": modelTree,
            "train_data": ["name": declaration.train.name, "examples": declaration.train.count, "shape": declaration.train.sampleShape],
            "test_data": declaration.test.map { ["name": $0.name, "examples": $0.count] as [String: Any] } ?? NSNull(),
            "eval_at": declaration.evaluateAt,
            "probes": ["grad_norm": declaration.gradNormAt, "examples": declaration.probeData?.count ?? declaration.train.count],
            "versions": ["budgetrain": BudgetrainVersion.string, "lua": LuaState.versionString],
            "machine": [
                "blas": "OpenBLAS \(BLASLibrary.coreName)", "threads": host.options.threads, "jobs": host.options.jobs,
                "cores": ProcessInfo.processInfo.activeProcessorCount,
            ],
            "started": ISO8601DateFormatter().string(from: Date()),
        ]
    }

    /// `linear-b0.25-s1: ok, 469 steps in 12.3 s, test accuracy 0.8712`.
    static func describe(_ row: ResultRow) -> String {
        var line = "\(row.run): \(row.status.rawValue)"
        if row.status != .failed { line += ", \(row.steps) steps in \(String(format: "%.1f", row.seconds)) s" }
        if let a = row.testAccuracy { line += String(format: ", test accuracy %.4f", a) }
        if row.status != .ok, let m = row.extras["message"] { line += " (\(m.split(separator: "\n").first ?? ""))" }
        return line
    }
}

/// An experiment that finished with failed runs, or could not start; its message says which.
public struct SweepFailure: Error, UserFacingError {
    public let message: String
    public var description: String { message }
}

extension Array where Element: Hashable {
    /// The elements in order, each once.
    func uniqued() -> [Element] {
        var seen = Set<Element>()
        return filter { seen.insert($0).inserted }
    }
}
