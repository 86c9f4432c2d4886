import BudgetEngine
import Foundation

/// Keeps a run's per-step metrics and evaluations, and writes them as `metrics.jsonl`.
///
/// Records are kept in arrays reserved up front for the whole budget, so recording a step
/// does not allocate. Every step is recorded up to `maxStepLines` steps; longer runs record
/// every k-th step (and always the last), which is plenty for curves and keeps files small.
/// A wall-clock budget has no step count to plan k from: it starts at every step and, each
/// time the records reach twice `maxStepLines`, keeps every other one and doubles k.
public final class MetricsRecorder: TrainingObserver {
    public static let maxStepLines = 2000

    public private(set) var steps: [StepRecord] = []
    public private(set) var evaluations: [EvaluationRecord] = []
    private var logEvery: Int
    private let knowsBudget: Bool
    /// Another observer (a progress display) that sees every step too.
    public weak var next: TrainingObserver?

    public init(budgetSteps: Int?, next: TrainingObserver? = nil) {
        let n = budgetSteps ?? Self.maxStepLines
        logEvery = max(1, (n + Self.maxStepLines - 1) / Self.maxStepLines)
        knowsBudget = budgetSteps != nil
        steps.reserveCapacity(budgetSteps == nil ? 2 * Self.maxStepLines : min(n, Self.maxStepLines) + 2)
        self.next = next
    }

    public func didStep(_ record: StepRecord) {
        let isLast = record.budgetSteps.map { record.step == $0 - 1 } ?? false
        if record.step % logEvery == 0 || isLast { steps.append(record) }
        if !knowsBudget, steps.count >= 2 * Self.maxStepLines {
            logEvery *= 2
            steps.removeAll { $0.step % logEvery != 0 }
        }
        next?.didStep(record)
    }

    public func didEvaluate(_ record: EvaluationRecord) {
        evaluations.append(record)
        next?.didEvaluate(record)
    }

    /// One JSON object per recorded step (`step, progress, epoch, lr, loss`) and per evaluation
    /// (`step, progress` and the measured values), in step order.
    public func jsonLines() -> String {
        var out = ""
        var e = 0
        func flushEvaluations(through step: Int) {
            while e < evaluations.count, evaluations[e].step <= step {
                let r = evaluations[e]
                var fields: [(String, Double?)] = [("step", Double(r.step)), ("progress", r.progress)]
                if let v = r.trainLoss { fields.append(("train_loss", v)) }
                if let v = r.testLoss { fields.append(("test_loss", v)) }
                if let v = r.testAccuracy { fields.append(("test_accuracy", v)) }
                if let v = r.gradNorm { fields.append(("grad_norm", v)) }
                out += JSONLine.object(fields) + "\n"
                e += 1
            }
        }
        for s in steps {
            flushEvaluations(through: s.step)
            out += JSONLine.object([
                ("step", Double(s.step)), ("progress", s.progress), ("epoch", Double(s.epoch)),
                ("lr", s.learningRate), ("loss", s.loss),
            ]) + "\n"
        }
        flushEvaluations(through: Int.max)
        return out
    }
}

/// Formats flat JSON objects of numbers (non-finite numbers become `null`, as JSON has none).
public enum JSONLine {
    public static func object(_ fields: [(String, Double?)]) -> String {
        "{" + fields.map { "\"\($0.0)\":\(number($0.1))" }.joined(separator: ",") + "}"
    }

    public static func number(_ x: Double?) -> String {
        guard let x, x.isFinite else { return "null" }
        if x == x.rounded(), abs(x) < 1e15 { return String(Int(x)) }
        return String(format: "%.9g", x)
    }
}
