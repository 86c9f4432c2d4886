import Foundation

/// How long a run may train.
public enum Budget: Sendable, Equatable, CustomStringConvertible {
    /// Passes over the training set (fractional epochs allowed).
    case epochs(Double)
    /// Optimizer steps.
    case iterations(Int)
    /// Wall-clock seconds of training: progress is elapsed time over the budget.
    case seconds(Double)
    /// Training examples drawn: `round(n / batch size)` steps (see `resolved`).
    case examples(Double)
    /// Training FLOPs: `round(f / FLOPs of one step)` steps, one step counted from the model's
    /// layer shapes by `FLOPCount` (see `resolved`), so models of different sizes train for
    /// equal compute.
    case flops(Double)

    /// More steps than any run could take (10¹² at 1 µs a step is 11 days); budgets of this
    /// many steps or more are rejected, so a step count computed in Double always fits an Int.
    public static let maximumSteps = 1 << 40

    /// Steps this budget allows, given the steps in one epoch; nil for a wall-clock budget and
    /// for a budget in examples or FLOPs that was not `resolved` to steps yet.
    public func steps(perEpoch: Int) -> Int? {
        switch self {
        case let .epochs(e): return Self.stepCount(e * Double(perEpoch))
        case let .iterations(n): return max(1, min(n, Self.maximumSteps))
        case .seconds, .examples, .flops: return nil
        }
    }

    /// Whether the budget needs the batch size or the model to become steps (`resolved`).
    public var needsResolution: Bool {
        switch self {
        case .examples, .flops: return true
        case .epochs, .iterations, .seconds: return false
        }
    }

    /// The budget in steps for a budget in examples (`round(n / batchSize)`) or FLOPs
    /// (`round(f / (batchSize · flopsPerExample()))`, the FLOPs of one full batch; see
    /// `FLOPCount.trainingFLOPsPerExample`); any other budget as it is. `flopsPerExample` is
    /// called only for a FLOPs budget.
    public func resolved(batchSize: Int, flopsPerExample: () throws -> Double) throws -> Budget {
        switch self {
        case let .examples(n):
            guard batchSize > 0 else { throw EngineError.invalidArgument("budget: batch size must be positive, got \(batchSize)") }
            return .iterations(Self.stepCount(n / Double(batchSize)))
        case let .flops(f):
            let perStep = try flopsPerExample() * Double(batchSize)
            guard perStep > 0, perStep.isFinite else {
                throw EngineError.invalidArgument("budget: \(description) needs a model whose training step has FLOPs to count (Linear or Conv2d layers); this one has \(perStep)")
            }
            return .iterations(Self.stepCount(f / perStep))
        case .epochs, .iterations, .seconds:
            return self
        }
    }

    /// A step count from a Double, at least 1 and at most `maximumSteps`.
    static func stepCount(_ x: Double) -> Int {
        guard x.isFinite, x < Double(maximumSteps) else { return maximumSteps }
        return max(1, Int(x.rounded()))
    }

    /// The same kind of budget scaled by `fraction` (budgets in a grid are fractions of the full one).
    public func scaled(by fraction: Double) -> Budget {
        switch self {
        case let .epochs(e): return .epochs(e * fraction)
        case let .iterations(n): return .iterations(Self.stepCount(Double(n) * fraction))
        case let .seconds(s): return .seconds(s * fraction)
        case let .examples(n): return .examples(n * fraction)
        case let .flops(f): return .flops(f * fraction)
        }
    }

    public func validate() throws {
        switch self {
        case let .epochs(e) where !(e > 0 && e < 1e9):
            throw EngineError.invalidArgument("budget: epochs must be a positive number below 1e9, got \(e)")
        case let .iterations(n) where n <= 0 || n >= Self.maximumSteps:
            throw EngineError.invalidArgument("budget: iterations must be positive and below \(Self.maximumSteps), got \(n)")
        case let .seconds(s) where !(s > 0 && s.isFinite):
            throw EngineError.invalidArgument("budget: seconds must be a positive number, got \(s)")
        case let .examples(n) where !(n >= 1 && n < 1e18):
            throw EngineError.invalidArgument("budget: examples must be a number in [1, 1e18), got \(n)")
        case let .flops(f) where !(f > 0 && f < 1e30):
            throw EngineError.invalidArgument("budget: flops must be a positive number below 1e30, got \(f)")
        default: return
        }
    }

    public var description: String {
        switch self {
        case let .epochs(e): return "\(e.formatted) epochs"
        case let .iterations(n): return "\(n) iterations"
        case let .seconds(s): return "\(s.formatted) s"
        case let .examples(n): return "\(n.formatted) examples"
        case let .flops(f): return "\(String(format: "%g", f)) FLOPs"
        }
    }
}

extension Double {
    /// Shortest readable form: `2` rather than `2.0`, `0.25` as is.
    public var formatted: String {
        if self == rounded(), abs(self) < 1e15 { return String(Int(self)) }
        return String(self)
    }
}
