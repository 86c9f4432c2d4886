/// How long a run may train.
public enum Budget: Sendable, Equatable, CustomStringConvertible {
    /// Passes over the training set (fractional epochs allowed).
    case epochs(Double)
    /// Optimizer steps.
    case iterations(Int)
    /// Wall-clock seconds of training: progress is elapsed time over the budget.
    case seconds(Double)

    /// More steps than any run could take (10¹² at 1 µs a step is 11 days); budgets of this
    /// many steps or more are rejected, so a step count computed in Double always fits an Int.
    public static let maximumSteps = 1 << 40

    /// Steps this budget allows, given the steps in one epoch; nil for a wall-clock budget.
    public func steps(perEpoch: Int) -> Int? {
        switch self {
        case let .epochs(e): return Self.stepCount(e * Double(perEpoch))
        case let .iterations(n): return max(1, min(n, Self.maximumSteps))
        case .seconds: return nil
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
        default: return
        }
    }

    public var description: String {
        switch self {
        case let .epochs(e): return "\(e.formatted) epochs"
        case let .iterations(n): return "\(n) iterations"
        case let .seconds(s): return "\(s.formatted) s"
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
