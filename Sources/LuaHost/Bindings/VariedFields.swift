import BudgetEngine
import BudgetExperiments

/// The varied fields of a grid cell or a search configuration that the run applies itself;
/// every field (these included) also reaches the model factory's `cfg` table.
///
/// | field | effect |
/// |---|---|
/// | `lr` | the optimizer's base learning rate |
/// | `weight_decay` | the optimizer's weight decay |
/// | `batch_size` | the batch size (a positive integer) |
/// | `subset` | train on a seeded fraction `f ∈ (0, 1]` of the training set, drawn from the run's seed, for the full number of epochs: `f` times the steps, the paper's subset baseline |
enum VariedFields {
    /// Names a varied field may not take: they are the grid's own axes or bookkeeping columns.
    static let reserved: Set<String> = ["seed", "schedule", "budget", "run", "message", "bracket", "rung"]

    /// What a run takes from its varied fields.
    struct Applied {
        var optimizer: OptimizerSpec
        var batchSize: Int
        var train: Dataset
    }

    /// Applies `fields` to `base`; `owner` names the experiment or search in messages.
    static func apply(_ fields: [(name: String, value: LuaValue)], to base: Applied, seed: UInt64, owner: String) throws -> Applied {
        var applied = base
        for (name, value) in fields {
            switch (name, value.doubleValue) {
            case let ("lr", x?): applied.optimizer = try applied.optimizer.withLearningRate(x)
            case let ("weight_decay", x?): applied.optimizer = try applied.optimizer.withWeightDecay(x)
            case ("batch_size", _):
                guard let n = value.intValue, n > 0 else {
                    throw BindingError("\(owner): batch_size values must be positive integers, got \(ExperimentDeclaration.text(value))")
                }
                applied.batchSize = n
            case let ("subset", f?):
                guard f > 0, f <= 1 else { throw BindingError("\(owner): subset values must be fractions in (0, 1], got \(f)") }
                if f < 1 { applied.train = try base.train.subset(fraction: f, seed: seed) }
            case ("lr", nil), ("weight_decay", nil), ("subset", nil):
                throw BindingError("\(owner): \(name) values must be numbers, got \(ExperimentDeclaration.text(value))")
            default: break
            }
        }
        return applied
    }
}
