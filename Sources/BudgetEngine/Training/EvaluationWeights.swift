/// Weights a run evaluates other than the ones it trains: schedule-free's averaged iterate `x`
/// (the optimizer's own: `SGDScheduleFree`, `AdamWScheduleFree`), or a weight average (EMA,
/// SWA, LAWA: `WeightAverage`).
///
/// The trainer consults it at every evaluation: an optimizer's evaluation weights replace the
/// model's for every measurement (test loss and accuracy, the gradient-norm probe) and are what
/// a checkpoint saves as `model.*`, and a finished run leaves them in the model; a weight
/// average is measured beside the model (`avg_test_accuracy`, `avg_test_loss`). Either way
/// `WeightSwap` puts them into the parameters, recomputes BatchNorm statistics for them, and
/// afterwards restores the parameters and statistics bit for bit, so that evaluating never
/// changes the training.
public protocol EvaluationWeights: AnyObject {
    /// One tensor per parameter, in the order of the optimizer's `parameters`; nil while there
    /// is nothing to evaluate yet (an SWA average before its start).
    var evaluationWeights: [Tensor]? { get }
}

/// Swaps other weights into a model's parameters for an evaluation, and back.
final class WeightSwap {
    private let model: Layer
    private let parameters: [Parameter]
    /// The trained values while other weights are in.
    private let saved: [Tensor]
    private let batchNorm: BatchNormRecalibration?

    /// `parameters` are the model's, in the order evaluation weights are given in; `train`,
    /// `batchSize` and `seed` choose the batches that recompute BatchNorm statistics.
    init(model: Layer, parameters: [Parameter], train: Dataset, batchSize: Int, seed: UInt64) throws {
        self.model = model
        self.parameters = parameters
        saved = parameters.map { Tensor(shape: $0.value.shape) }
        batchNorm = try BatchNormRecalibration(model: model, train: train, batchSize: batchSize, seed: seed)
    }

    /// Runs `body` with `weights` in the parameters and BatchNorm statistics recomputed for
    /// them; then puts back the parameters and statistics as they were.
    func evaluating<T>(_ weights: [Tensor], _ body: () throws -> T) throws -> T {
        for (copy, p) in zip(saved, parameters) { copy.copy(from: p.value) }
        batchNorm?.save()
        defer {
            for (p, copy) in zip(parameters, saved) { p.value.copy(from: copy) }
            batchNorm?.restore()
        }
        try install(weights)
        return try body()
    }

    /// Puts `weights` into the parameters for good, with BatchNorm statistics recomputed for
    /// them (a schedule-free run ends holding `x`).
    func install(_ weights: [Tensor]) throws {
        for (p, w) in zip(parameters, weights) { p.value.copy(from: w) }
        try batchNorm?.recompute(model)
    }
}
