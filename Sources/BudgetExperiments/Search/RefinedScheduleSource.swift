import BudgetEngine
import Foundation

/// The per-step gradient norms a run logged with `probes = { step_grad_norm = true }`: the
/// `progress` and `grad_norm` of each step line of its metrics.jsonl.
public enum StepGradientNorms {
    /// The metrics file of `path`: `path/metrics.jsonl` for a run folder, `path` itself otherwise.
    public static func metricsPath(_ path: String) -> String {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            return path + "/metrics.jsonl"
        }
        return path
    }

    /// The logged `(progress, norm)` pairs, in order.
    public static func read(from path: String) throws -> [(progress: Double, norm: Double)] {
        let file = metricsPath(path)
        guard let data = FileManager.default.contents(atPath: file) else { throw RefinedScheduleSourceMissing(path: file) }
        var points: [(Double, Double)] = []
        for (number, line) in String(decoding: data, as: UTF8.self).split(separator: "\n").enumerated() where line.contains("\"grad_norm\"") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw EngineError.dataFile(path: file, message: "line \(number + 1) is not a JSON object")
            }
            guard object["epoch"] != nil else { continue }  // an evaluation's full-batch norm, not a step's
            guard let p = (object["progress"] as? NSNumber)?.doubleValue, let g = (object["grad_norm"] as? NSNumber)?.doubleValue else {
                throw EngineError.dataFile(path: file, message: "line \(number + 1): a step line's progress and grad_norm must be numbers")
            }
            points.append((p, g))
        }
        guard !points.isEmpty else {
            throw EngineError.dataFile(path: file, message: "has no per-step gradient norms; train that run with probes = { step_grad_norm = true }")
        }
        return points
    }
}

/// A refined schedule's source does not exist (yet): the run it names has not been trained.
public struct RefinedScheduleSourceMissing: Error, CustomStringConvertible {
    public let path: String
    public var description: String {
        "\(path) does not exist; the run it belongs to must be trained first, with probes = { step_grad_norm = true }"
    }
}

/// `schedule.refined { from = ..., smooth = ... }`: a `RefinedSchedule` built from a run's
/// logged gradient norms the first time it is evaluated, and kept. Reading when first used
/// lets a script refine from a run that an experiment declared earlier in the same script
/// trains first (experiments run in order, after the script). A pure function of progress
/// once read: the log is read once, whole.
public final class RefinedScheduleSource: Schedule, @unchecked Sendable {
    public let path: String
    public let smoothing: Double
    private let lock = NSLock()
    private var loaded: RefinedSchedule?

    public init(path: String, smoothing: Double) throws {
        guard smoothing >= 0, smoothing <= 1 else {
            throw EngineError.invalidArgument("refined: smooth must be a fraction of the run in [0, 1], got \(smoothing)")
        }
        self.path = path
        self.smoothing = smoothing
    }

    public var summary: String { "refined(from=\(path), smooth=\(smoothing.formatted))" }

    /// Whether the run's metrics exist yet.
    public var sourceExists: Bool { FileManager.default.fileExists(atPath: StepGradientNorms.metricsPath(path)) }

    /// The refined schedule, read now if it was not.
    public func load() throws -> RefinedSchedule {
        lock.lock()
        defer { lock.unlock() }
        if let loaded { return loaded }
        let schedule = try RefinedSchedule(points: try StepGradientNorms.read(from: path), smoothing: smoothing, source: path)
        loaded = schedule
        return schedule
    }

    public func multiplier(at p: Double, context: ScheduleContext) throws -> Double {
        try load().multiplier(at: p, context: context)
    }
}
