import BudgetEngine
import Foundation

/// A run's metrics as JSON lines, written while the run trains (so a sweep can be watched):
///
///     {"step":0,"progress":0,"epoch":0,"lr":0.1,"loss":2.302585}
///     {"step":1,"progress":0.001,"epoch":0,"lr":0.0999,"loss":2.28,"grad_norm":1.93}   (with probes.step_grad_norm)
///     {"event":"evaluation","step":469,"progress":0.5,"train_loss":0.41,"test_loss":0.45,"test_accuracy":0.84,"grad_norm":0.9}
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
/// to it, so no line is lost or doubled.
public final class MetricsLog: TrainingObserver {
    public static let maxStepLines = 2000

    public enum Thinning: Sendable, Equatable {
        case none
        /// At most about `maxStepLines` step lines for a run of `budgetSteps` (nil: wall clock).
        case thinned(budgetSteps: Int?)
    }

    public let path: String
    private let fd: Int32
    private var buffer: [UInt8] = []
    public private(set) var byteCount: Int
    private var logEvery: Int
    private var linesAtRate = 0
    private let budgetSteps: Int?
    private let doublesRate: Bool
    /// Another observer (a progress display) that sees every step too.
    public weak var next: TrainingObserver?

    /// Opens `path` for a run starting from scratch (the file is emptied), or, with `resume`,
    /// cut back to a checkpoint's byte count and thinning state.
    public init(path: String, thinning: Thinning, resume: Checkpoint? = nil, next: TrainingObserver? = nil) throws {
        self.path = path
        self.next = next
        switch thinning {
        case .none: (budgetSteps, logEvery, doublesRate) = (nil, 1, false)
        case let .thinned(steps?): (budgetSteps, logEvery, doublesRate) = (steps, max(1, (steps + Self.maxStepLines - 1) / Self.maxStepLines), false)
        case .thinned(nil): (budgetSteps, logEvery, doublesRate) = (nil, 1, true)
        }
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw EngineError.dataFile(path: path, message: "cannot write metrics: \(String(cString: strerror(errno)))") }
        byteCount = resume?.bytes ?? 0
        if let resume {
            logEvery = resume.logEvery
            linesAtRate = resume.linesAtRate
        }
        var info = stat()
        guard fstat(fd, &info) == 0, Int(info.st_size) >= byteCount else {
            close(fd)
            throw EngineError.dataFile(path: path, message: "is shorter than its checkpoint says (\(byteCount) bytes); the run's folder was changed")
        }
        guard ftruncate(fd, off_t(byteCount)) == 0, lseek(fd, off_t(byteCount), SEEK_SET) >= 0 else {
            close(fd)
            throw EngineError.dataFile(path: path, message: "cannot cut the metrics back to \(byteCount) bytes")
        }
        buffer.reserveCapacity(1 << 16)
    }

    deinit { close(fd) }

    /// Where the log stands, for a checkpoint.
    public struct Checkpoint: Sendable, Equatable {
        public var bytes: Int
        public var logEvery: Int
        public var linesAtRate: Int

        public var info: [String: String] {
            ["metrics.bytes": String(bytes), "metrics.log_every": String(logEvery), "metrics.lines_at_rate": String(linesAtRate)]
        }

        public init(bytes: Int, logEvery: Int, linesAtRate: Int) {
            self.bytes = bytes
            self.logEvery = logEvery
            self.linesAtRate = linesAtRate
        }

        /// Reads what `info` wrote; nil when the state has none of it.
        public init?(info: [String: String]) {
            guard let b = info["metrics.bytes"].flatMap(Int.init), let e = info["metrics.log_every"].flatMap(Int.init),
                  let l = info["metrics.lines_at_rate"].flatMap(Int.init), b >= 0, e >= 1, l >= 0 else { return nil }
            self.init(bytes: b, logEvery: e, linesAtRate: l)
        }
    }

    /// Writes out what is buffered and syncs it to disk; returns where the log stands.
    @discardableResult
    public func flush() throws -> Checkpoint {
        try writeBuffer()
        fsync(fd)
        return Checkpoint(bytes: byteCount, logEvery: logEvery, linesAtRate: linesAtRate)
    }

    public func didStep(_ r: StepRecord) {
        let isLast = budgetSteps.map { r.step == $0 - 1 } ?? false
        if r.step % logEvery == 0 || isLast {
            append(Self.stepLine(r))
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
        next?.didEvaluate(r)
    }

    static func stepLine(_ r: StepRecord) -> String {
        let gradNorm = r.gradNorm.map { ",\"grad_norm\":\(number($0))" } ?? ""
        return "{\"step\":\(r.step),\"progress\":\(number(r.progress)),\"epoch\":\(r.epoch),\"lr\":\(number(r.learningRate)),\"loss\":\(number(r.loss))\(gradNorm)}\n"
    }

    static func evaluationLine(_ r: EvaluationRecord) -> String {
        var line = "{\"event\":\"evaluation\",\"step\":\(r.step),\"progress\":\(number(r.progress))"
        for (key, value) in [("train_loss", r.trainLoss), ("test_loss", r.testLoss), ("test_accuracy", r.testAccuracy), ("grad_norm", r.gradNorm)] {
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

    private func append(_ line: String) {
        buffer.append(contentsOf: line.utf8)
        if buffer.count >= 1 << 16 { try? writeBuffer() }
    }

    /// Writes the buffer; what could not be written stays buffered for the next attempt.
    private func writeBuffer() throws {
        var done = 0
        defer {
            byteCount += done
            buffer.removeFirst(done)
        }
        try buffer.withUnsafeBytes { bytes in
            guard let base = bytes.baseAddress else { return }
            while done < bytes.count {
                let n = write(fd, base + done, bytes.count - done)
                if n < 0, errno == EINTR { continue }
                guard n > 0 else { throw EngineError.dataFile(path: path, message: "cannot write metrics: \(String(cString: strerror(errno)))") }
                done += n
            }
        }
    }
}
