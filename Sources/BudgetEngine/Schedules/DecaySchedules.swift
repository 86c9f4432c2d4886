import Foundation

// Smooth decays: closed-form functions of progress alone, monotone from 1 at p = 0.

/// Smooth exponential decay `m(p) = final ^ p`: 1 at the start, `final` at `p = 1`, the
/// learning rate shrinking by the same factor every step. This is PyTorch's `ExponentialLR`
/// with its `gamma` chosen so the budget ends at `final`, applied every step; wrap it in
/// `SampledSchedule(every: .epoch)` for the per-epoch staircase.
public struct ExponentialSchedule: Schedule {
    public let final: Double

    public init(final: Double = 1e-3) throws {
        guard final.isFinite, final > 0 else {
            throw invalidScheduleArgument("exp", "final must be a finite number > 0 (use poly or linear to reach 0), got \(final)")
        }
        self.final = final
    }

    public var summary: String { scheduleSummary("exp", final == 1e-3 ? nil : "final=\(final.formatted)") }
    public func multiplier(at p: Double, context: ScheduleContext) -> Double { pow(final, p) }
}

/// Polynomial decay `m(p) = (1 − p) ^ power` to zero at the end of the budget (PyTorch's
/// `PolynomialLR`; `power = 2` is the "squared" decay, `power = 1` is linear).
public struct PolynomialSchedule: Schedule {
    public let power: Double

    public init(power: Double = 2) throws {
        guard power.isFinite, power > 0 else {
            throw invalidScheduleArgument("poly", "power must be a finite number > 0, got \(power)")
        }
        self.power = power
    }

    public var summary: String { scheduleSummary("poly", power == 2 ? nil : "power=\(power.formatted)") }
    public func multiplier(at p: Double, context: ScheduleContext) -> Double { pow(max(0, 1 - p), power) }
}

/// Cosine annealing `m(p) = final + (1 − final) · (1 + cos(π p)) / 2`, from 1 down to `final`
/// at the end of the budget, without restarts (Loshchilov & Hutter, "SGDR: Stochastic Gradient
/// Descent with Warm Restarts", 2017; PyTorch's `CosineAnnealingLR` with `T_max` = the budget).
public struct CosineSchedule: Schedule {
    public let final: Double

    public init(final: Double = 0) throws {
        guard final.isFinite, final >= 0 else {
            throw invalidScheduleArgument("cosine", "final must be a finite number >= 0, got \(final)")
        }
        self.final = final
    }

    public var summary: String { scheduleSummary("cosine", final == 0 ? nil : "final=\(final.formatted)") }
    public func multiplier(at p: Double, context: ScheduleContext) -> Double {
        final + (1 - final) * (1 + cos(Double.pi * p)) / 2
    }
}

/// Hyperbolic-tangent decay `m(p) = (1 − tanh(lower + (upper − lower) · p)) / 2` (Hsueh et al.,
/// "Stochastic Gradient Descent with Hyperbolic-Tangent Decay on Classification", WACV 2019).
///
/// It starts just below 1 and does not reach 0: with the defaults −6 / 3 it runs from
/// `(1 − tanh(−6)) / 2 ≈ 0.999994` to `(1 − tanh 3) / 2 ≈ 0.00247` at `p = 1`.
public struct HyperbolicTangentDecaySchedule: Schedule {
    public let lower: Double
    public let upper: Double

    public init(lower: Double = -6, upper: Double = 3) throws {
        guard lower.isFinite, upper.isFinite else {
            throw invalidScheduleArgument("htd", "lower and upper must be finite numbers, got lower=\(lower), upper=\(upper)")
        }
        guard lower < upper else {
            throw invalidScheduleArgument("htd", "lower must be below upper, got lower=\(lower), upper=\(upper)")
        }
        self.lower = lower
        self.upper = upper
    }

    public var summary: String {
        scheduleSummary("htd", lower == -6 ? nil : "lower=\(lower.formatted)", upper == 3 ? nil : "upper=\(upper.formatted)")
    }

    public func multiplier(at p: Double, context: ScheduleContext) -> Double {
        (1 - tanh(lower + (upper - lower) * p)) / 2
    }
}

/// REX, the "reflected exponential" profile `m(p) = (1 − p) / (1 − p/2)`: stays high longer than
/// linear and drops to 0 at the end (Chen, Wolfe & Kyrillidis, "REX: Revisiting Budgeted
/// Training with an Improved Schedule", MLSys 2022).
public struct REXSchedule: Schedule {
    public init() {}
    public var summary: String { "rex" }
    public func multiplier(at p: Double, context: ScheduleContext) -> Double {
        max(0, 1 - p) / (1 - p / 2)
    }
}
