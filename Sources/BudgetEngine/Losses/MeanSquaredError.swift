/// Mean squared error against one-hot labels (PyTorch's `nn.MSELoss()` with `reduction='mean'`
/// on one-hot targets): for outputs `z[N, K]` and labels `y`,
///
///     loss = 1/(N·K) · Σ_{i, j} (z[i, j] − [j = y_i])²,      ∂loss/∂z[i, j] = 2/(N·K) · (z[i, j] − [j = y_i])
public final class MeanSquaredError: Loss {
    private let gradient = Tensor(shape: [0])

    public init() {}

    public var summary: String { "MSE" }

    public func forward(_ z: Tensor, labels: UnsafeBufferPointer<Int32>) throws -> Double {
        let (n, classes) = try validateClassBatch(self, z, labels)
        try gradient.resize(batch: n, like: z.shape, for: "\(summary) gradient")
        let elements = n * classes
        let scale = 2 / Float(elements)
        var total = 0.0
        for i in 0..<n {
            let row = z.data + i * classes, g = gradient.data + i * classes
            let label = Int(labels[i])
            var rowSum: Float = 0
            for j in 0..<classes {
                let diff = row[j] - (j == label ? 1 : 0)
                rowSum += diff * diff
                g[j] = scale * diff
            }
            total += Double(rowSum)
        }
        return total / Double(elements)
    }

    public func backward() -> Tensor { gradient }
}
