import BudgetEngine

extension ExperimentPlan {
    /// A plan of the given cells, in order (a search's: every (bracket, rung, configuration,
    /// seed) it may train). Run names must be unique.
    public init(name: String, fullBudget: Budget, cells: [ExperimentCell], extraFields: [String]) throws {
        guard !name.isEmpty, !name.contains("/") else {
            throw EngineError.invalidArgument("search: name must be non-empty and contain no '/', got '\(name)'")
        }
        try fullBudget.validate()
        var seen = Set<String>()
        for cell in cells where !seen.insert(cell.run).inserted {
            throw EngineError.invalidArgument("search '\(name)': run '\(cell.run)' appears twice")
        }
        self.name = name
        self.fullBudget = fullBudget
        self.cells = cells
        self.extraFields = extraFields
    }
}

extension ResultRow {
    /// The value of a metric by its results.csv name: `test_accuracy`, `test_loss` or
    /// `train_loss` (nil for another name or a value not measured).
    public func metric(_ name: String) -> Double? {
        switch name {
        case "test_accuracy": return testAccuracy
        case "test_loss": return testLoss
        case "train_loss": return trainLoss
        default: return nil
        }
    }

    /// The metrics a search can rank by; losses rank lowest first.
    public static let searchMetrics = ["test_accuracy", "test_loss", "train_loss"]
}

extension SweepRunsFailed {
    /// Failed runs of a search (whose rungs are sweeps of their own), summed up.
    public init(summary message: String) { self.init(message: message) }
}
