import Foundation

/// Step decay: `m = gamma ^ (number of milestones reached)`, the classic schedule of
/// ResNet-style training (He et al., "Deep Residual Learning for Image Recognition", 2016;
/// PyTorch's `MultiStepLR`).
///
/// Milestones come in two kinds:
/// - fractions of this run's budget (`milestones`, budget-aware, as in the Budgeted Training
///   paper): a milestone `0.5` is reached at `p >= 0.5`, whatever the budget;
/// - absolute epochs (`epochMilestones`, budget-unaware): reached when `context.epoch` gets
///   there, so a short budget simply ends before them. This is the "off-the-shelf" baseline.
///
/// ```swift
/// let s = try StepSchedule(milestones: [0.5, 0.75], gamma: 0.1)   // 1, then 0.1, then 0.01
/// ```
public struct StepSchedule: Schedule {
    public enum Milestones: Sendable, Equatable {
        /// Fractions of the budget, each in `(0, 1)`, increasing.
        case progress([Double])
        /// Epochs (0-based epoch index at which the decay applies), each >= 1, increasing.
        case epochs([Int])
    }

    public let milestones: Milestones
    public let gamma: Double

    /// Budget-aware step decay at fractions of the budget.
    public init(milestones: [Double] = [0.5, 0.75], gamma: Double = 0.1) throws {
        for m in milestones where !(m > 0 && m < 1) {
            throw invalidScheduleArgument("step", "milestones must be in (0, 1), got \(m)")
        }
        try Self.requireIncreasing(milestones.map { $0.formatted }, milestones)
        try Self.validate(gamma: gamma)
        self.milestones = .progress(milestones)
        self.gamma = gamma
    }

    /// Budget-unaware step decay at absolute epochs: decays by `gamma` when the run's epoch
    /// reaches each of `epochMilestones` (e.g. `[30, 60]`).
    public init(epochMilestones: [Int], gamma: Double = 0.1) throws {
        for m in epochMilestones where m < 1 {
            throw invalidScheduleArgument("step", "epoch_milestones must be epochs >= 1, got \(m)")
        }
        try Self.requireIncreasing(epochMilestones.map(String.init), epochMilestones)
        try Self.validate(gamma: gamma)
        self.milestones = .epochs(epochMilestones)
        self.gamma = gamma
    }

    private static func requireIncreasing<T: Comparable>(_ labels: [String], _ values: [T]) throws {
        for i in values.indices.dropFirst() where values[i] <= values[i - 1] {
            throw invalidScheduleArgument(
                "step", "milestones must increase, got \(labels[i]) after \(labels[i - 1])")
        }
    }

    private static func validate(gamma: Double) throws {
        guard gamma.isFinite, gamma > 0 else {
            throw invalidScheduleArgument("step", "gamma must be a finite number > 0, got \(gamma)")
        }
    }

    public var summary: String {
        let gammaText = gamma == 0.1 ? nil : "gamma=\(gamma.formatted)"
        switch milestones {
        case let .progress(values):
            let text = values == [0.5, 0.75] ? nil : "milestones=" + values.map { $0.formatted }.joined(separator: ",")
            return scheduleSummary("step", text, gammaText)
        case let .epochs(values):
            return scheduleSummary("step", "epoch_milestones=" + values.map(String.init).joined(separator: ","), gammaText)
        }
    }

    public func multiplier(at p: Double, context: ScheduleContext) -> Double {
        let reached: Int
        switch milestones {
        case let .progress(values): reached = reachedCount(of: values, at: p)
        case let .epochs(values): reached = values.prefix { $0 <= context.epoch }.count
        }
        return pow(gamma, Double(reached))
    }
}
