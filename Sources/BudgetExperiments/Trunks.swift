import BudgetEngine
import Foundation

/// Which runs of an experiment share their beginning, so that it is trained once.
///
/// Runs with the same schedule, seed and varied fields differ only in their budget. Where such
/// a run's learning rate equals, at each of its first k steps, that of the longest run of its
/// group (its *trunk*), and both start from the same weights, the two runs are the same for
/// those k steps: the data order, the model and every setting agree. The trunk then trains
/// those steps for both, keeps the branch's own accounts (progress, evaluations, metrics) as
/// it goes, and hands it a checkpoint at step k from which it continues alone. Warmup-stable-
/// decay schedules with their cooldowns share everything but the cooldown; budget-aware
/// decays (linear, cosine) share next to nothing and are left alone.
///
/// The prefix is found by evaluating each run's schedule step by step (a Lua function
/// included), never by recognising schedule names; wall-clock budgets never share. A branch
/// joins a trunk only when the shared part is at least `minimumShare` of its budget and more
/// than the first step (which every schedule starting at its peak shares): below that, a
/// checkpoint and a restart cost more than they save.
public struct TrunkPlan: Sendable {
    public struct Branch: Sendable, Equatable {
        public var run: String
        /// Steps it shares with its trunk.
        public var steps: Int

        public init(run: String, steps: Int) {
            self.run = run
            self.steps = steps
        }
    }

    /// The branches of each trunk run, by the trunk's name.
    public private(set) var branches: [String: [Branch]] = [:]
    /// The trunk of each branch, by the branch's name.
    public private(set) var trunks: [String: String] = [:]
    /// Steps of all runs together, and of those that trunks train for their branches.
    public private(set) var totalSteps = 0
    public private(set) var sharedSteps = 0

    public static let minimumShare = 0.1
    /// The most steps compared per run: the planning before a sweep stays bounded (seconds,
    /// even with a Lua schedule) however long the budgets are.
    public static let maximumScan = 1_000_000

    /// No sharing.
    public init() {}

    public init(plan: ExperimentPlan, makeSpec: (ExperimentCell) throws -> RunSpec) throws {
        var groups: [String: [ExperimentCell]] = [:]
        var order: [String] = []
        for cell in plan.cells {
            let key = Self.groupKey(cell)
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(cell)
        }
        for key in order {
            let cells = groups[key] ?? []
            let specs = try cells.map(makeSpec)
            totalSteps += specs.reduce(0) { $0 + ($1.budgetSteps ?? 0) }
            // A weight average depends on the budget (SWA's start, LAWA's snapshots): no trunk.
            guard cells.count > 1, specs.allSatisfy({ $0.averaging == nil }) else { continue }
            // A schedule that fails here fails its run too, with the run's own message; the
            // group just trains without a trunk.
            try? share(group: cells, specs: specs)
        }
    }

    /// Runs differing in their budget alone.
    static func groupKey(_ cell: ExperimentCell) -> String {
        ([cell.schedule, String(cell.seed)] + cell.extras.map { "\($0.name)=\($0.value)" }).joined(separator: "\u{1F}")
    }

    private mutating func share(group cells: [ExperimentCell], specs: [RunSpec]) throws {
        let steps = specs.map { $0.budgetSteps ?? 0 }
        guard let leader = steps.indices.max(by: { steps[$0] < steps[$1] || (steps[$0] == steps[$1] && $0 > $1) }),
              steps[leader] > 0 else { return }
        var leaderWeights: [String: NamedArray]?
        for i in cells.indices where i != leader && steps[i] > 0 {
            // Step by step, keeping nothing (a budget of a billion steps must not allocate its
            // rates), and at most `maximumScan` steps: a shorter prefix is still a shared one.
            var shared = 0
            while shared < min(steps[i], Self.maximumScan), let rate = try specs[i].plannedLearningRate(at: shared),
                  let trunkRate = try specs[leader].plannedLearningRate(at: shared), rate.bitPattern == trunkRate.bitPattern {
                shared += 1
            }
            guard Double(shared) >= max(2, Self.minimumShare * Double(steps[i])) else { continue }
            // The same initial weights (a factory could build another model for another budget).
            if leaderWeights == nil { leaderWeights = try Self.initialWeights(specs[leader]) }
            guard try Self.initialWeights(specs[i]) == leaderWeights else { continue }
            branches[cells[leader].run, default: []].append(Branch(run: cells[i].run, steps: shared))
            trunks[cells[i].run] = cells[leader].run
            sharedSteps += shared
        }
    }

    static func initialWeights(_ spec: RunSpec) throws -> [String: NamedArray] {
        var rng = RandomGenerator(seed: spec.seed, stream: RunSpec.initialisationStream)
        return try spec.makeModel(&rng).stateArrays()
    }

    /// Whether `run` is a trunk some run branches from.
    public func isTrunk(_ run: String) -> Bool { !(branches[run] ?? []).isEmpty }
}
