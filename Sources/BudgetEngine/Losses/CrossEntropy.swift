import Foundation

/// Softmax cross-entropy on logits, fused: `loss = mean_i (logsumexp(z_i) - z_i[y_i])`.
///
/// Subtracting each row's maximum before exponentiating keeps it finite for logits of any
/// magnitude (±1e4 and beyond). The gradient is `(softmax(z) - onehot(y)) / N`.
public final class CrossEntropy: Loss {
    private let gradient = Tensor(shape: [0])

    public init() {}

    public var summary: String { "CrossEntropy" }

    public func forward(_ z: Tensor, labels: UnsafeBufferPointer<Int32>) throws -> Double {
        let (n, classes) = try validateClassBatch(self, z, labels)
        try gradient.resize(batch: n, like: z.shape, for: "\(summary) gradient")
        let scale = 1 / Float(n)
        var total = 0.0
        for i in 0..<n {
            let row = z.data + i * classes, g = gradient.data + i * classes
            var m = row[0]
            for j in 1..<classes { m = max(m, row[j]) }
            var sum: Float = 0
            for j in 0..<classes {
                let e = expf(row[j] - m)
                g[j] = e
                sum += e
            }
            let y = Int(labels[i])
            // (m - z_y) first: for huge, nearly tied logits it is exact, and the small log term
            // is not lost to rounding against m.
            total += Double((m - row[y]) + logf(sum))
            let inv = scale / sum
            for j in 0..<classes { g[j] *= inv }
            g[y] -= scale
        }
        return total / Double(n)
    }

    public func backward() -> Tensor { gradient }
}
