import BudgetEngine
import BudgetExperiments
import CLua
import Foundation

/// Turns one declared experiment into a `Sweep` and runs it: the grid, a run-spec factory
/// (the Lua side: model factories, Lua schedules) and the sweep's identity, then writes
///
///     <out>/<name>/results.csv, <run>/metrics.jsonl, config.lua, config.json, sweep.json, summary.md, report.html
struct ExperimentSweep {
    let declaration: ExperimentDeclaration
    let host: ScriptHost

    var plan: ExperimentPlan { declaration.plan }
    var directory: String { host.sweepDirectory(for: plan.name) }

    func run() throws {
        // Shape errors and bad schedules surface now, before any compute is spent.
        try declaration.check(in: host)
        host.checkReports.removeAll()

        let runner = try declaration.runner(directory: directory)
        if runner.trunks.sharedSteps > 0 {
            let t = runner.trunks
            host.progress?.note("\(plan.name): \(t.trunks.count) runs branch from a shared trunk: \(t.totalSteps - t.sharedSteps) steps to train instead of \(t.totalSteps)")
        }
        let sweep = Sweep(runner: runner, identity: identity(), settings: host.options.sweep)
        sweep.progress = host.progress
        sweep.afterLocalRun = { [host] in host.collectGarbage() }
        let summary = try sweep.run(writeConfiguration: writeConfiguration)
        print(summary)
        if host.options.sweep.shard == nil { print("Results in \(directory)/ (results.csv, summary.md, report.html)") }
    }

    /// The script, its arguments, the grid and every setting its runs share.
    private func identity() -> SweepIdentity {
        var settings: [String: String] = [
            "full_budget": plan.fullBudget.description,
            "batch_size": String(declaration.batchSize),
            "optimizer": declaration.optimizer.description,
            "loss": declaration.makeLoss().summary,
            "train_data": "\(declaration.train.name), \(declaration.train.count) examples",
            "test_data": declaration.test.map { "\($0.name), \($0.count) examples" } ?? "none",
            "eval_at": declaration.evaluateAt.map(\.formatted).joined(separator: ", "),
            "probes": "grad_norm at \(declaration.gradNormAt.map(\.formatted)), \(declaration.probeData?.count ?? declaration.train.count) examples",
            "share_trunks": declaration.shareTrunks ? "true" : "false",
        ]
        for (name, schedule) in declaration.schedules { settings["schedule " + name] = schedule.summary }
        if let v = declaration.validation { settings["validation_data"] = "\(v.name), \(v.count) examples" }
        if let averaging = declaration.averaging { settings["average"] = averaging.description }
        if declaration.logsStepGradientNorm { settings["step_grad_norm"] = "logged" }
        return SweepIdentity(scriptSource: host.scriptSource, scriptArguments: host.scriptArguments, plan: plan, settings: settings)
    }

    /// `config.json`: the resolved grid and the machine, for people and tools to read.
    private func writeConfiguration() throws {
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
        let options = host.options
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
            "validation_data": declaration.validation.map { ["name": $0.name, "examples": $0.count] as [String: Any] } ?? NSNull(),
            "eval_at": declaration.evaluateAt,
            "targets": declaration.targets,
            "probes": ["grad_norm": declaration.gradNormAt, "examples": declaration.probeData?.count ?? declaration.train.count],
            "average": declaration.averaging.map { $0.description as Any } ?? NSNull(),
            "checkpoint": ["every": declaration.checkpoint.fraction.map { $0 as Any } ?? NSNull(), "seconds": declaration.checkpoint.seconds.map { $0 as Any } ?? NSNull()],
            "versions": ["budgetrain": BudgetrainVersion.string, "lua": LuaState.versionString],
            "machine": [
                "blas": "OpenBLAS \(BLASLibrary.coreName)", "threads": options.sweep.threadsPerRun, "jobs": options.sweep.jobs,
                "cores": ProcessInfo.processInfo.activeProcessorCount,
            ],
            "started": ISO8601DateFormatter().string(from: Date()),
        ]
    }
}

extension SweepRunsFailed: UserFacingError {}
extension SweepInterrupted: UserFacingError {}

extension Array where Element: Hashable {
    /// The elements in order, each once.
    func uniqued() -> [Element] {
        var seen = Set<Element>()
        return filter { seen.insert($0).inserted }
    }
}
