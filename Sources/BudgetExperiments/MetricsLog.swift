import BudgetEngine
import Foundation

/// A run's metrics as JSON lines, written while the run trains (so a sweep can be watched):
///
///     {"step":0,"progress":0,"epoch":0,"lr":0.1,"loss":2.302585}
///     {"step":1,"progress":0.001,"epoch":0,"lr":0.0999,"loss":2.28,"grad_norm":1.93}   (with probes.step_grad_norm)
///     {"event":"evaluation","step":469,"progress":0.5,"train_loss":0.41,"test_loss":0.45,"test_accuracy":0.84,"grad_norm":0.9}
///     {"event":"evaluation",...,"avg_test_loss":0.43,"avg_test_accuracy":0.85}     (with a weight average)
///
/// A step line says what step `step` (0-based) trained at; an evaluation line is taken after
/// `step` steps. Numbers are the shortest text that reads back as the same double; non-finite
/// ones are `null`. Every field an evaluation did not measure is left out.
///
/// Which steps are written: every one, or (`thinned`) at most about `maxStepLines`: a run of
/// known length writes every k-th step (and always its last); a wall-clock run starts with
/// every step and doubles k each time `maxStepLines` lines have been written at the current k,
/// so it writes at most `maxStepLines` lines per doubling (bounded by 40 doublings).
///
/// The file grows by appends; `flush` makes what was written durable and returns the byte
/// count, which a checkpoint records: a run resumed from that checkpoint cuts the file back
/// to it, so no line is lost or doubled. With `events`, the same points also go to a
/// TensorBoard event file (tags `train/lr`, `train/loss`, `eval/train_loss`, `eval/test_loss`,
/// `eval/test_accuracy`, `eval/grad_norm`, `eval/val_loss`, `eval/val_accuracy`,
/// `eval/avg_test_loss`, `eval/avg_test_accuracy`), cut back the same way. Evaluation lines
/// carry `val_loss` and `val_accuracy` when the run has a validation set, `avg_test_loss` and
/// `avg_test_accuracy` when it has a weight average.
public final class MetricsLog: TrainingObserver {
    public static let maxStepLines = 2000

    public enum Thinning: Sendable, Equatable {
        case none
        /// At most about `maxStepLines` step lines for a run of `budgetSteps` (nil: wall clock).
        case thinned(budgetSteps: Int?)
    }

    private let file: AppendFile
    public var path: String { file.path }
    private var logEvery: Int
    private var linesAtRate = 0
    private let budgetSteps: Int?
    private let doublesRate: Bool
    /// Another observer (a progress display) that sees every step too.
    public weak var next: TrainingObserver?
    /// The TensorBoard event file the same points go to.
    public let events: EventFile?

    /// Opens `path` (and `eventsPath`) for a run starting from scratch (the files are emptied),
    /// or, with `resume`, cut back to a checkpoint's byte counts and thinning state.
    public init(
        path: String, thinning: Thinning, eventsPath: String? = nil, resume: Checkpoint? = nil, next: TrainingObserver? = nil
    ) throws {
        self.next = next
        switch thinning {
        case .none: (budgetSteps, logEvery, doublesRate) = (nil, 1, false)
        case let .thinned(steps?): (budgetSteps, logEvery, doublesRate) = (steps, max(1, (steps + Self.maxStepLines - 1) / Self.maxStepLines), false)
        case .thinned(nil): (budgetSteps, logEvery, doublesRate) = (nil, 1, true)
        }
        if let resume {
            logEvery = resume.logEvery
            linesAtRate = resume.linesAtRate
        }
        file = try AppendFile(path: path, length: resume?.bytes ?? 0, what: "metrics")
        events = try eventsPath.map { try EventFile(path: $0, resumeBytes: resume == nil ? nil : resume?.eventBytes ?? 0) }
    }

    /// Where the log stands, for a checkpoint.
    public struct Checkpoint: Sendable, Equatable {
        public var bytes: Int
        public var logEvery: Int
        public var linesAtRate: Int
        /// The TensorBoard event file's length (nil without one).
        public var eventBytes: Int?

        public var info: [String: String] {
            var info = ["metrics.bytes": String(bytes), "metrics.log_every": String(logEvery), "metrics.lines_at_rate": String(linesAtRate)]
            if let eventBytes { info["tensorboard.bytes"] = String(eventBytes) }
            return info
        }

        public init(bytes: Int, logEvery: Int, linesAtRate: Int, eventBytes: Int? = nil) {
            self.bytes = bytes
            self.logEvery = logEvery
            self.linesAtRate = linesAtRate
            self.eventBytes = eventBytes
        }

        /// Reads what `info` wrote; nil when the state has none of it.
        public init?(info: [String: String]) {
            guard let b = info["metrics.bytes"].flatMap(Int.init), let e = info["metrics.log_every"].flatMap(Int.init),
                  let l = info["metrics.lines_at_rate"].flatMap(Int.init), b >= 0, e >= 1, l >= 0 else { return nil }
            self.init(bytes: b, logEvery: e, linesAtRate: l, eventBytes: info["tensorboard.bytes"].flatMap(Int.init).map { max($0, 0) })
        }
    }

    /// Writes out what is buffered and syncs it to disk; returns where the log stands.
    @discardableResult
    public func flush() throws -> Checkpoint {
        let bytes = try file.flush()
        let eventBytes = try events?.flush()
        return Checkpoint(bytes: bytes, logEvery: logEvery, linesAtRate: linesAtRate, eventBytes: eventBytes)
    }

    public func didStep(_ r: StepRecord) {
        let isLast = budgetSteps.map { r.step == $0 - 1 } ?? false
        if r.step % logEvery == 0 || isLast {
            append(Self.stepLine(r))
            events?.scalars(step: r.step, [("train/lr", r.learningRate), ("train/loss", r.loss)])
            linesAtRate += 1
            if doublesRate, linesAtRate >= Self.maxStepLines, logEvery < 1 << 40 {
                logEvery *= 2
                linesAtRate = 0
            }
        }
        next?.didStep(r)
    }

    public func didEvaluate(_ r: EvaluationRecord) {
        append(Self.evaluationLine(r))
        let measured: [(String, Double?)] = [
            ("eval/train_loss", r.trainLoss), ("eval/test_loss", r.testLoss), ("eval/test_accuracy", r.testAccuracy), ("eval/grad_norm", r.gradNorm),
            ("eval/val_loss", r.valLoss), ("eval/val_accuracy", r.valAccuracy),
            ("eval/avg_test_loss", r.avgTestLoss), ("eval/avg_test_accuracy", r.avgTestAccuracy),
        ]
        events?.scalars(step: r.step, measured.compactMap { tag, value in value.map { (tag, $0) } })
        next?.didEvaluate(r)
    }

    static func stepLine(_ r: StepRecord) -> String {
        let gradNorm = r.gradNorm.map { ",\"grad_norm\":\(number($0))" } ?? ""
        return "{\"step\":\(r.step),\"progress\":\(number(r.progress)),\"epoch\":\(r.epoch),\"lr\":\(number(r.learningRate)),\"loss\":\(number(r.loss))\(gradNorm)}\n"
    }

    static func evaluationLine(_ r: EvaluationRecord) -> String {
        var line = "{\"event\":\"evaluation\",\"step\":\(r.step),\"progress\":\(number(r.progress))"
        let measured: [(String, Double?)] = [("train_loss", r.trainLoss), ("test_loss", r.testLoss), ("test_accuracy", r.testAccuracy), ("grad_norm", r.gradNorm),
                                             ("val_loss", r.valLoss), ("val_accuracy", r.valAccuracy), ("avg_test_loss", r.avgTestLoss), ("avg_test_accuracy", r.avgTestAccuracy)]
        for (key, value) in measured {
            if let value { line += ",\"\(key)\":\(number(value))" }
        }
        return line + "}\n"
    }

    /// The shortest text that reads back as `x`; `null` for non-finite values.
    public static func number(_ x: Double) -> String {
        guard x.isFinite else { return "null" }
        if x == x.rounded(), abs(x) < 1e15 { return String(Int(x)) }
        return "\(x)"
    }

    private func append(_ line: String) { file.append(Array(line.utf8)) }
}
