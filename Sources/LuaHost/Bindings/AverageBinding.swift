import BudgetEngine

/// The `average` field of `train{}` and `experiment{}`: a weight average evaluated beside the
/// model (see `WeightAveraging` for the formulas).
///
/// ```lua
/// average = { ema = 0.999 }                       -- exponential moving average, every step
/// average = { swa = { start = 0.75 } }            -- uniform average past 75% of the budget
/// average = { lawa = { k = 5, every = 0.02 } }    -- mean of the last 5 snapshots, one per 2%
/// ```
enum AverageBinding {
    static let fields = ["ema", "swa", "lawa"]

    /// The averaging `o.average` asks for (nil when absent); `optimizer` must not be one that
    /// evaluates weights of its own (schedule-free).
    static func read(_ o: LuaOptions, optimizer: OptimizerSpec) throws -> WeightAveraging? {
        let averaging: WeightAveraging? = try o.nested("average", fields: fields) { a in
            guard let a else { return nil }
            let given = fields.filter { a.has($0) }
            guard given.count == 1 else {
                throw o.bad("average", "exactly one of ema, swa or lawa expected, got \(given.isEmpty ? "none" : given.joined(separator: " and "))")
            }
            switch given[0] {
            case "ema":
                return .ema(decay: try a.requiredNumber("ema"))
            case "swa":
                return try a.nested("swa", fields: ["start"]) { s in
                    .swa(start: try s?.number("start") ?? WeightAveraging.defaultSWAStart)
                }
            default:
                return try a.nested("lawa", fields: ["k", "every"]) { l in
                    .lawa(k: try l?.integer("k") ?? WeightAveraging.defaultLAWAK, every: try l?.number("every") ?? WeightAveraging.defaultLAWAEvery)
                }
            }
        }
        guard let averaging else { return nil }
        do { try averaging.validate() } catch { throw o.bad("average", userMessage(for: error).replacingPrefix("average: ")) }
        if optimizer.providesEvaluationWeights {
            throw o.bad("average", "\(optimizer.description) already evaluates an average of its iterates (x); average goes with optim.sgd, adam or adamw")
        }
        return averaging
    }
}

extension String {
    /// The string without `prefix`, if it starts with it.
    func replacingPrefix(_ prefix: String) -> String { hasPrefix(prefix) ? String(dropFirst(prefix.count)) : self }
}
