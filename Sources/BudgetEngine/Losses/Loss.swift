/// A loss over a batch of model outputs and integer class labels.
///
/// `forward` returns the mean loss over the batch and remembers what `backward` needs;
/// `backward` returns the gradient of that mean with respect to the outputs (a buffer owned
/// by the loss, reused from step to step).
public protocol Loss: AnyObject {
    /// The loss as users name it, e.g. `CrossEntropy`.
    var summary: String { get }
    func forward(_ output: Tensor, labels: UnsafeBufferPointer<Int32>) throws -> Double
    func backward() -> Tensor
}

/// Checks that `output` is `[N, classes]` with one label per row and every label in range.
func validateClassBatch(_ loss: Loss, _ output: Tensor, _ labels: UnsafeBufferPointer<Int32>) throws -> (n: Int, classes: Int) {
    guard output.shape.count == 2 else {
        throw EngineError.shapeMismatch(path: loss.summary, expected: "model output [N, classes]", got: output.shape)
    }
    let n = output.shape[0], classes = output.shape[1]
    guard labels.count == n else {
        throw EngineError.shapeMismatch(path: loss.summary, expected: "output with \(labels.count) rows (one per label)", got: output.shape)
    }
    for label in labels where label < 0 || Int(label) >= classes {
        throw EngineError.invalidArgument("\(loss.summary): label \(label) is out of range for a model with \(classes) outputs (labels must be 0 ..< \(classes))")
    }
    return (n, classes)
}
