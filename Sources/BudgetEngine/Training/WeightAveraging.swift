/// How a run averages its weights. The average is evaluated beside the model at every
/// evaluation (`avg_test_accuracy`, `avg_test_loss`), with BatchNorm statistics recomputed for
/// it (see `BatchNormRecalibration`); only parameters are averaged, as PyTorch's
/// `AveragedModel` does by default (`use_buffers=False`).
public enum WeightAveraging: Sendable, Equatable, CustomStringConvertible {
    /// Exponential moving average, updated after every step: with θ the weights after step t,
    ///
    ///     avg ← θ                                  after the first step
    ///     avg ← avg + (1 − decay) · (θ − avg)      after every later one
    ///
    /// PyTorch: `AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay))` with
    /// `update_parameters` after every step (its first call copies, `n_averaged = 0`).
    case ema(decay: Double)
    /// Stochastic weight averaging (Izmailov et al., UAI 2018): the uniform average of the
    /// weights at every step boundary past progress `start`; with n weights averaged so far,
    ///
    ///     avg ← avg + (θ − avg) / (n + 1)
    ///
    /// (a budget of 1000 steps with start 0.75 averages the weights after steps 751 ... 1000).
    /// PyTorch: `AveragedModel(model)` (its default `avg_fn`), updated after each of those steps.
    case swa(start: Double)
    /// Latest-weight averaging (Kaddour, 2022; Sanyal et al., 2023): a snapshot of the weights
    /// each time progress reaches a multiple of `every` (every, 2·every, ..., 1), and the mean of
    /// the last `k` snapshots (of all of them while fewer than `k` were taken):
    ///
    ///     avg = (1/m) · Σ_{j = n − m + 1}^{n} θ_{(j · every)},    m = min(k, n), n snapshots so far
    case lawa(k: Int, every: Double)

    /// Defaults of the Lua API's `{ swa = {} }` and `{ lawa = {} }`.
    public static let defaultSWAStart = 0.75
    public static let defaultLAWAK = 5
    public static let defaultLAWAEvery = 0.02

    public func validate() throws {
        switch self {
        case let .ema(decay):
            guard decay >= 0, decay < 1 else { throw EngineError.invalidArgument("average: ema decay must be in [0, 1), got \(decay)") }
        case let .swa(start):
            guard start >= 0, start < 1 else { throw EngineError.invalidArgument("average: swa start must be a fraction of the budget in [0, 1), got \(start)") }
        case let .lawa(k, every):
            guard k >= 1, k <= 1000 else { throw EngineError.invalidArgument("average: lawa k must be a number of snapshots in [1, 1000], got \(k)") }
            guard every >= 1e-4, every <= 1 else { throw EngineError.invalidArgument("average: lawa every must be a fraction of the budget in [0.0001, 1], got \(every)") }
        }
    }

    public var description: String {
        switch self {
        case let .ema(decay): return "ema(decay=\(decay))"
        case let .swa(start): return "swa(start=\(start))"
        case let .lawa(k, every): return "lawa(k=\(k), every=\(every))"
        }
    }
}

extension RunSpec {
    /// Checks `averaging` and that it does not meet an optimizer that evaluates weights of its
    /// own (a schedule-free optimizer already averages its iterates).
    public func validateAveraging() throws {
        guard let averaging else { return }
        try averaging.validate()
        if optimizer.providesEvaluationWeights {
            throw EngineError.invalidArgument("average: \(optimizer.description) already evaluates an average of its iterates (x); use average with optim.sgd, adam or adamw")
        }
    }
}
