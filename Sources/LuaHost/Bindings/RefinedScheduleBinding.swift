import BudgetEngine
import BudgetExperiments
import Foundation

/// `schedule.refined { from = "runs/x/linear-b1-s1", smooth = 0.05 }`: the schedule Defazio et
/// al. (2023) refine from the per-step gradient norms of an earlier run (see
/// `RefinedSchedule`), for any budget. `from` is a run folder or its metrics.jsonl, logged
/// with `probes = { step_grad_norm = true }`; `smooth` is the median filter's width as a
/// fraction of that run (default 0.05).
///
/// A source that exists is read at once (a log without gradient norms is an error here). One
/// that does not must be a run of an experiment declared earlier in the script, which trains
/// first (experiments run in order once the script has returned); the log is read when the
/// schedule is first evaluated.
enum RefinedScheduleBinding {
    static let defaultSmoothing = 0.05

    static func register(in registry: BindingRegistry, host: ScriptHost) throws {
        try registry.function("schedule.refined") { [weak host] args in
            guard let host else { throw HostError("the script host no longer exists") }
            let o = try args.options(1, fields: ["from", "smooth"])
            try args.noMore(than: 1)
            guard let from = try o.string("from") else {
                throw o.mismatch("from", expected: "string (a run folder, or its metrics.jsonl, logged with probes = { step_grad_norm = true })")
            }
            let source: RefinedScheduleSource
            do { source = try RefinedScheduleSource(path: from, smoothing: try o.number("smooth", default: defaultSmoothing)) } catch let error as EngineError {
                throw o.bad("smooth", error.description)
            }
            if source.sourceExists {
                do { _ = try source.load() } catch { throw o.bad("from", userMessage(for: error)) }
            } else {
                try host.checkDeclaredSource(from, field: o)
            }
            return .object(ScheduleHandle(source))
        }
    }
}

extension ScriptHost {
    /// Throws unless `path` is the folder (or metrics.jsonl) of a run of an experiment already
    /// declared, one that logs per-step gradient norms.
    func checkDeclaredSource(_ path: String, field o: LuaOptions) throws {
        let wanted = (path as NSString).standardizingPath
        for case let experiment as ExperimentDeclaration in declarations {
            let folder = sweepDirectory(for: experiment.plan.name)
            for cell in experiment.plan.cells {
                let run = ((folder + "/" + SafeName.folder(for: cell.run)) as NSString).standardizingPath
                guard wanted == run || wanted == run + "/metrics.jsonl" else { continue }
                guard experiment.logsStepGradientNorm else {
                    throw o.bad("from", "experiment '\(experiment.plan.name)' trains \(path) without logging gradient norms; give it probes = { step_grad_norm = true }")
                }
                return
            }
        }
        throw o.bad("from", "\(path) does not exist, and no experiment declared before this line trains it (a run folder such as <out>/<experiment>/<run>, logged with probes = { step_grad_norm = true })")
    }
}

extension RefinedScheduleSourceMissing: UserFacingError {}
