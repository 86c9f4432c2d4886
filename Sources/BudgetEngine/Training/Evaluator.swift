/// Loss and top-1 accuracy of a model over a dataset, batched, in evaluation mode; and the
/// full-batch gradient norm used by the budgeted-convergence probe.
public final class Evaluator {
    private let iterator: BatchIterator

    public init(dataset: Dataset, batchSize: Int) throws {
        iterator = try BatchIterator(dataset: dataset, batchSize: batchSize, shuffle: false, seed: 0, augment: false)
    }

    /// Mean loss and accuracy (0...1) over the whole dataset. Leaves the model in the mode it
    /// found it in.
    public func evaluate(_ model: Layer, loss: Loss) throws -> (loss: Double, accuracy: Double) {
        let wasTraining = model.isTraining
        model.setTraining(false)
        defer { model.setTraining(wasTraining) }
        iterator.start(epoch: 0)
        var totalLoss = 0.0, correct = 0, seen = 0
        while case let n = iterator.next(), n > 0 {
            let output = try model.forward(iterator.inputs)
            totalLoss += try loss.forward(output, labels: iterator.labels) * Double(n)
            correct += countCorrect(output, iterator.labels)
            seen += n
        }
        return (totalLoss / Double(seen), Double(correct) / Double(seen))
    }

    /// ‖∇L‖₂ of the mean loss over the whole dataset at the current weights (no step taken).
    /// Gradients are accumulated batch by batch, each weighted by its share of the examples;
    /// the model runs in evaluation mode so dropout does not perturb the measurement. The
    /// parameters' gradients are left zeroed.
    public func gradientNorm(_ model: Layer, loss: Loss) throws -> Double {
        let wasTraining = model.isTraining
        model.setTraining(false)
        defer { model.setTraining(wasTraining) }
        let parameters = model.parameters
        for p in parameters { p.gradient.zero() }
        iterator.start(epoch: 0)
        let total = Float(iterator.dataset.count)
        while case let n = iterator.next(), n > 0 {
            let output = try model.forward(iterator.inputs)
            _ = try loss.forward(output, labels: iterator.labels)
            let g = loss.backward()
            let weight = Float(n) / total
            for i in 0..<g.count { g.data[i] *= weight }
            _ = try model.backward(g)
        }
        var sum = 0.0
        for p in parameters {
            for i in 0..<p.count { sum += Double(p.gradient.data[i]) * Double(p.gradient.data[i]) }
            p.gradient.zero()
        }
        return sum.squareRoot()
    }
}

/// Number of rows of `output` whose largest value is at the label's position.
func countCorrect(_ output: Tensor, _ labels: UnsafeBufferPointer<Int32>) -> Int {
    let classes = output.elementsPerItem
    var correct = 0
    for i in 0..<labels.count {
        let row = output.data + i * classes
        var best = 0
        for j in 1..<classes where row[j] > row[best] { best = j }
        if best == Int(labels[i]) { correct += 1 }
    }
    return correct
}
