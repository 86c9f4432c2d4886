import Foundation
import Testing
@testable import BudgetEngine

@Suite struct LossReferenceTests {
    /// Loss and gradient of softmax cross-entropy by the definition, in Double:
    /// `loss = mean_i (log Σ_j exp z_ij − z_i,y_i)`, `∂loss/∂z_ij = (softmax_ij − [j = y_i]) / N`.
    func reference(_ logits: [[Double]], _ labels: [Int]) -> (loss: Double, gradient: [[Double]]) {
        let n = Double(logits.count)
        var loss = 0.0
        var gradient: [[Double]] = []
        for (row, y) in zip(logits, labels) {
            let sumExp = row.map { exp($0) }.reduce(0, +)
            loss += log(sumExp) - row[y]
            gradient.append(row.enumerated().map { j, z in (exp(z) / sumExp - (j == y ? 1 : 0)) / n })
        }
        return (loss / n, gradient)
    }

    func run(_ logits: [[Float]], _ labels: [Int32]) throws -> (loss: Double, gradient: [Float]) {
        let z = try Tensor(shape: [logits.count, logits[0].count], values: logits.flatMap { $0 })
        let loss = CrossEntropy()
        let value = try labels.withUnsafeBufferPointer { try loss.forward(z, labels: $0) }
        return (value, loss.backward().values)
    }

    @Test func fixedLogitsMatchTheDefinition() throws {
        let logits: [[Float]] = [[1, 2, 3], [-1, 0.5, 4], [0.25, 0.25, -2]]
        let labels: [Int32] = [2, 0, 1]
        let (loss, gradient) = try run(logits, labels)
        let expected = reference(logits.map { $0.map(Double.init) }, labels.map(Int.init))
        #expect(abs(loss - expected.loss) < 1e-6)
        expectClose(gradient, expected.gradient.flatMap { $0 }, "cross-entropy gradient")
        // A hand-checkable value: logits (1, 2, 3) with label 2 alone give log(e⁻² + e⁻¹ + 1).
        let single = try run([[1, 2, 3]], [2]).loss
        #expect(abs(single - log(exp(-2.0) + exp(-1.0) + 1)) < 1e-6)
    }

    @Test func hugeLogitsStayFinite() throws {
        let logits: [[Float]] = [[1e4, -1e4, 0], [-1e4, -1e4, 1e4]]
        // Row 1 misses by 2e4 (label 1); row 2 is right (label 2) with loss ~0.
        let (loss, gradient) = try run(logits, [1, 2])
        #expect(loss.isFinite && gradient.allSatisfy(\.isFinite))
        #expect(abs(loss - 1e4) < 1e-2)  // (2e4 + 0) / 2
        expectClose(gradient, [0.5, -0.5, 0, 0, 0, 0], tolerance: 1e-6, "saturated gradient")

        let (allEqual, flat) = try run([[1e4, 1e4], [-1e4, -1e4]], [0, 1])
        // Float spacing at 1e4 is about 1e-3, so log 2 is recovered to that precision.
        #expect(abs(allEqual - log(2.0)) < 2e-3)
        expectClose(flat, [-0.25, 0.25, 0.25, -0.25], "tied logits")
    }
}
