/// Recomputes the BatchNorm running statistics of a model for weights other than those training
/// moved them with (a weight average, schedule-free's `x`), as PyTorch's
/// `torch.optim.swa_utils.update_bn` does: reset every BatchNorm layer's statistics (mean 0,
/// variance 1), then pass training batches forward with the statistics as a cumulative average
/// (`momentum=None`): at the k-th batch
///
///     running ← (1 − 1/k) · running + (1/k) · batch statistic     (mean; unbiased variance)
///
/// so that after K batches they are the mean of the K batches' statistics.
///
/// Which batches: the first `⌈examples / batch_size⌉` training batches of epoch 0 (the batches
/// the run trained on first, with its shuffle and augmentation), at most one epoch; batches of
/// fewer than two examples are skipped. Only the BatchNorm layers run in training mode: the rest
/// (Dropout above all) evaluate, so no random stream moves and the recomputation changes
/// nothing but the statistics. (PyTorch runs the whole model in training mode, dropout and all.)
final class BatchNormRecalibration {
    /// How many training examples the statistics are averaged over (at most).
    static let examples = 10_000

    let layers: [BatchNorm]
    private let iterator: BatchIterator
    private let batches: Int
    /// The statistics before `save()`, per layer: mean, variance.
    private let saved: [(mean: Tensor, variance: Tensor)]

    /// Nil when the model has no BatchNorm layer (there is nothing to recompute).
    init?(model: Layer, train: Dataset, batchSize: Int, seed: UInt64) throws {
        var found: [BatchNorm] = []
        try model.walkState(prefix: "model", depth: 0) { _, layer in
            if let batchNorm = layer as? BatchNorm { found.append(batchNorm) }
        }
        guard !found.isEmpty else { return nil }
        layers = found
        iterator = try BatchIterator(dataset: train, batchSize: batchSize, shuffle: true, seed: seed, augment: true)
        batches = min(iterator.batchesPerEpoch, (Self.examples + batchSize - 1) / batchSize)
        saved = found.map { (Tensor(shape: $0.runningMean.shape), Tensor(shape: $0.runningVariance.shape)) }
    }

    /// Keeps the current statistics for `restore()`.
    func save() {
        for (layer, copy) in zip(layers, saved) {
            copy.mean.copy(from: layer.runningMean)
            copy.variance.copy(from: layer.runningVariance)
        }
    }

    /// Puts back the statistics `save()` kept, bit for bit.
    func restore() {
        for (layer, copy) in zip(layers, saved) {
            layer.runningMean.copy(from: copy.mean)
            layer.runningVariance.copy(from: copy.variance)
        }
    }

    /// Recomputes the statistics of `model` (which holds `layers`) at its current weights.
    func recompute(_ model: Layer) throws {
        let wasTraining = model.isTraining
        model.setTraining(false)
        for layer in layers {
            layer.isTraining = true
            layer.runningMean.zero()
            layer.runningVariance.fill(1)
        }
        defer {
            for layer in layers { layer.statisticsFactor = nil }
            model.setTraining(wasTraining)
        }
        iterator.start(epoch: 0)
        var k = 0
        for _ in 0..<batches {
            let n = iterator.next()
            guard n > 0 else { break }
            guard n >= 2 else { continue }
            k += 1
            for layer in layers { layer.statisticsFactor = 1 / Double(k) }
            _ = try model.forward(iterator.inputs)
        }
    }
}
