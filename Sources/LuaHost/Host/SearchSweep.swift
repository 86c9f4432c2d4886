import BudgetEngine
import BudgetExperiments
import Foundation

/// Carries out one declared search, rung by rung, each rung a `Sweep` over the cells of its
/// survivors: the same runner, run folders, records, workers (`--jobs`), locks, signals and
/// `--resume` as an experiment's grid. The survivors of a rung are chosen from the records on
/// disk, so a resumed search (or a worker) reconstructs the same rungs.
///
///     <out>/<name>/results.csv          one row per trained (configuration, rung, seed)
///     <out>/<name>/<run>/               each run's record, metrics and checkpoints
///     <out>/<name>/config.json          the search described ("search": method, η, brackets, ...)
///     <out>/<name>/summary.md, report.html   the rungs, survivors, winner and compute
///
/// With `continue = true` each survivor's run keeps its final state (`final.safetensors`) for
/// the next rung; the states of configurations that do not survive are removed once the rung
/// is ranked, the others once the next rung has trained.
struct SearchSweep {
    let declaration: SearchDeclaration
    let host: ScriptHost

    var plan: ExperimentPlan { declaration.plan }
    var directory: String { host.sweepDirectory(for: plan.name) }

    func run() throws {
        try declaration.check(in: host)
        host.checkReports.removeAll()
        let identity = self.identity()
        let sign = declaration.metric.hasSuffix("loss") ? -1.0 : 1.0
        var settings = host.options.sweep
        var reached = Set<String>()
        var failures: [String] = []
        let directory = self.directory

        _ = try declaration.structure.run { bracket, rung, chosen in
            let b = declaration.structure.brackets.firstIndex(of: bracket) ?? 0
            let cells = declaration.cells(bracket: b, rung: rung.index, configurations: chosen)
            reached.formUnion(cells.map(\.run))
            let upToHere = try ExperimentPlan(
                name: plan.name, fullBudget: plan.fullBudget, cells: plan.cells.filter { reached.contains($0.run) }, extraFields: plan.extraFields)
            let runner = ExperimentRunner(plan: upToHere, directory: directory) { [declaration] in try declaration.spec(for: $0, in: directory) }
            let sweep = Sweep(runner: runner, identity: identity, settings: settings)
            sweep.onlyRuns = Set(cells.map(\.run))
            sweep.progress = host.progress
            sweep.afterLocalRun = { [host] in host.collectGarbage() }
            host.progress?.note("\(plan.name): bracket \(bracket.halvings), rung \(rung.index): \(chosen.count) configuration(s) at \(String(format: "%.4g", rung.fraction)) of the maximum budget")
            do {
                _ = try sweep.run(writeConfiguration: writeConfiguration)
            } catch let error as SweepRunsFailed {
                failures.append(error.message)
            }
            // The rest of the search resumes what this process has started.
            settings.resume = true
            let records = try runner.records()
            var metrics: [Int: Double] = [:]
            for c in chosen {
                let values = cells.filter { declaration.cellsByRun[$0.run]?.configuration == c }
                    .compactMap { records[$0.run] }.filter { $0.status == .ok }
                    .compactMap { $0.metric(declaration.metric) }.filter(\.isFinite)
                metrics[c] = values.isEmpty ? .nan : sign * values.reduce(0, +) / Double(values.count)
            }
            if declaration.continues {
                removeFinalStates(bracket: b, rung: rung, chosen: chosen, metrics: metrics)
            }
            return metrics
        }
        let summary = try ExperimentReport.write(directories: [directory], to: directory)
        print(summary)
        print("Results in \(directory)/ (results.csv, summary.md, report.html)")
        if let first = failures.first {
            throw SweepRunsFailed(summary: "search '\(plan.name)': runs failed in \(failures.count) rung(s); the first: \(first)")
        }
    }

    /// Removes the final states no later rung needs: this rung's non-survivors', and the
    /// previous rung's (its survivors have now continued).
    private func removeFinalStates(bracket b: Int, rung: SearchStructure.Rung, chosen: [Int], metrics: [Int: Double]) {
        let survivors = Set(SearchStructure.best(chosen, metrics: metrics, count: rung.keep))
        for cell in declaration.cells(bracket: b, rung: rung.index, configurations: chosen.filter { !survivors.contains($0) }) {
            unlink(RunFolder(path: directory + "/" + SafeName.folder(for: cell.run)).finalStatePath)
        }
        guard rung.index > 0 else { return }
        for cell in declaration.cells(bracket: b, rung: rung.index, configurations: chosen) {
            if let previous = declaration.previousRun(of: cell.run) {
                unlink(RunFolder(path: directory + "/" + SafeName.folder(for: previous)).finalStatePath)
            }
        }
    }

    /// The script, its arguments, every run the search may train and the settings they share.
    private func identity() -> SweepIdentity {
        let d = declaration
        let settings: [String: String] = [
            "search": description(),
            "max_budget": d.maxBudget.description,
            "min_budget": "\(d.minimumFraction.formatted) of the maximum",
            "configurations": (0..<d.configurations.count).map(d.configurations.runText).joined(separator: " "),
            "schedule": d.schedule.summary,
            "batch_size": String(d.batchSize),
            "optimizer": d.optimizer.description,
            "loss": d.makeLoss().summary,
            "train_data": "\(d.train.name), \(d.train.count) examples",
            "test_data": d.test.map { "\($0.name), \($0.count) examples" } ?? "none",
            "eval_at": d.evaluateAt.map(\.formatted).joined(separator: ", "),
            "metric": d.metric,
            "probes": "grad_norm at \(d.gradNormAt.map(\.formatted)), step_grad_norm \(d.logsStepGradientNorm)",
        ]
        return SweepIdentity(scriptSource: host.scriptSource, scriptArguments: host.scriptArguments, plan: plan, settings: settings)
    }

    private func description() -> String {
        let d = declaration
        return "\(d.structure.brackets.count > 1 ? "hyperband" : "successive halving"), eta \(d.structure.eta), "
            + "brackets \(d.structure.brackets.map { String($0.halvings) }.joined(separator: ",")), "
            + (d.truncated ? "truncated" : "budget-aware") + (d.continues ? ", continued" : ", from scratch") + ", seed \(d.seed)"
    }

    /// `config.json`: the search described (what the report reads back), and the machine.
    private func writeConfiguration() throws {
        let d = declaration
        let search: [String: Any] = [
            "method": d.structure.brackets.count > 1 ? "Hyperband" : "successive halving",
            "eta": d.structure.eta,
            "schedule": d.schedule.summary,
            "truncated": d.truncated,
            "continue": d.continues,
            "metric": d.metric,
            "configurations": d.configurations.count,
            "seeds": d.seeds.count,
            "seed": Int(truncatingIfNeeded: d.seed),
            "max_budget": d.maxBudget.description,
            "reference": d.reference.map { $0 as Any } ?? NSNull(),
            "brackets": d.structure.brackets.map { bracket -> [String: Any] in
                ["halvings": bracket.halvings, "configurations": bracket.configurations.count,
                 "rungs": bracket.rungs.map { ["fraction": $0.fraction, "size": $0.size, "keep": $0.keep] }]
            },
        ]
        let config: [String: Any] = [
            "experiment": plan.name,
            "search": search,
            "script": host.scriptPath ?? "",
            "script_arguments": host.scriptArguments,
            "full_budget": d.maxBudget.description,
            "fields": d.configurations.fields,
            "configurations": (0..<d.configurations.count).map(d.configurations.runText),
            "seeds": d.seeds.map { Int(truncatingIfNeeded: $0) },
            "runs": plan.cells.count,
            "batch_size": d.batchSize,
            "optimizer": d.optimizer.description,
            "loss": d.makeLoss().summary,
            "train_data": ["name": d.train.name, "examples": d.train.count],
            "test_data": d.test.map { ["name": $0.name, "examples": $0.count] as [String: Any] } ?? NSNull(),
            "eval_at": d.evaluateAt,
            "versions": ["budgetrain": BudgetrainVersion.string, "lua": LuaState.versionString],
            "machine": [
                "blas": "OpenBLAS \(BLASLibrary.coreName)", "threads": host.options.sweep.threadsPerRun, "jobs": host.options.sweep.jobs,
                "cores": ProcessInfo.processInfo.activeProcessorCount,
            ],
        ]
        let json = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
        try AtomicFile.write(String(decoding: json, as: UTF8.self) + "\n", to: directory + "/config.json")
    }
}
