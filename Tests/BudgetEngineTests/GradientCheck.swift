@testable import BudgetEngine

/// Finite-difference gradient checks for any `Layer` or `Loss`.
///
/// For a layer, the scalar checked is a random linear functional of the output,
/// `L(x, θ) = Σ_i r_i · y_i(x, θ)` with fixed `r ~ N(0, 1)`: its gradient is exactly what
/// `backward(r)` returns (input) and accumulates (parameters), and a random `r` exercises every
/// output. Each analytic entry is compared with the central difference
/// `(L(v + h) − L(v − h)) / (2h)`, where `2h` is the step actually taken in Float32 and `L` is
/// accumulated in Float64.
///
/// Tolerance: an entry agrees when `|analytic − numeric| ≤ rtol · max(|analytic|, |numeric|) + atol`,
/// with `rtol = 1e-2` by default and `atol = 1e-3 ·` the largest `|numeric|` over every entry of
/// the check (the rounding noise of a Float32 forward pass divided by `2h` is about 1e-5 of it;
/// the absolute term lets a gradient that is truly zero, such as a conv bias before BatchNorm,
/// come out as noise). Inputs must stay clear of kinks (ReLU at 0, ties in max pooling) by more
/// than `h`.
enum GradientCheck {
    struct Mismatch: CustomStringConvertible {
        var tensor: String
        var index: Int
        var analytic: Double
        var numeric: Double
        var description: String { "\(tensor)[\(index)]: analytic \(analytic), numeric \(numeric)" }
    }

    struct Report {
        /// Entries compared, over the input and every parameter.
        var compared = 0
        var mismatches: [Mismatch] = []
        var passed: Bool { compared > 0 && mismatches.isEmpty }
        var summary: String {
            "\(compared) entries compared, \(mismatches.count) mismatched: "
                + mismatches.prefix(6).map(\.description).joined(separator: "; ")
        }
    }

    /// Checks the input gradient (unless `checkInput` is false) and every parameter gradient of
    /// `layer` at `input`. At most `maxEntries` entries of each tensor are probed (chosen at
    /// random); the layer's mode is left as the caller set it. Also checks that `backward`
    /// accumulates parameter gradients (a second call doubles them).
    static func check(
        _ layer: Layer, input: Tensor, step: Float = 1e-2, relativeTolerance: Double = 1e-2,
        checkInput: Bool = true, maxEntries: Int = 150, seed: UInt64 = 17
    ) throws -> Report {
        // A sub-stream of its own, so the projection never repeats an input drawn from the same seed.
        var rng = RandomGenerator(seed: seed, stream: 0x5052_4F4A)
        let output = try layer.forward(input)
        let outputShape = output.shape
        let projection = (0..<output.count).map { _ in rng.normal() }
        let weights = try Tensor(shape: outputShape, values: projection)

        func functional() throws -> Double {
            let y = try layer.forward(input)
            var sum = 0.0
            for i in 0..<y.count { sum += Double(projection[i]) * Double(y[i]) }
            return sum
        }

        let parameters = layer.parameters
        layer.zeroGradients()
        let inputGradient = try layer.backward(weights).values
        let parameterGradients = parameters.map { $0.gradient.values }

        var report = Report()
        // Accumulation: a second backward adds the same gradient again.
        _ = try layer.backward(weights)
        for (p, once) in zip(parameters, parameterGradients) {
            for i in 0..<p.count where abs(Double(p.gradient[i]) - 2 * Double(once[i])) > 1e-5 * (1 + abs(Double(once[i]))) {
                report.mismatches.append(Mismatch(
                    tensor: "\(p.name) (second backward must double it)", index: i,
                    analytic: Double(p.gradient[i]), numeric: 2 * Double(once[i])))
            }
        }

        var entries: [(tensor: String, index: Int, analytic: Double, numeric: Double)] = []
        func probe(_ name: String, _ values: Tensor, analytic: [Float]) throws {
            var indices = Array(0..<values.count)
            if indices.count > maxEntries {
                indices.withUnsafeMutableBufferPointer { buffer in
                    for i in stride(from: buffer.count - 1, to: 0, by: -1) { buffer.swapAt(i, rng.nextInt(below: i + 1)) }
                }
                indices = Array(indices.prefix(maxEntries))
            }
            for i in indices {
                let original = values[i]
                let plus = original + step, minus = original - step
                values[i] = plus
                let up = try functional()
                values[i] = minus
                let down = try functional()
                values[i] = original
                entries.append((name, i, Double(analytic[i]), (up - down) / (Double(plus) - Double(minus))))
            }
        }

        if checkInput { try probe("input", input, analytic: inputGradient) }
        for (p, analytic) in zip(parameters, parameterGradients) { try probe(p.name, p.value, analytic: analytic) }
        let scale = max(entries.map { abs($0.numeric) }.max() ?? 0, 1e-5)
        for e in entries {
            report.compared += 1
            if abs(e.analytic - e.numeric) > relativeTolerance * max(abs(e.analytic), abs(e.numeric)) + 1e-3 * scale {
                report.mismatches.append(Mismatch(tensor: e.tensor, index: e.index, analytic: e.analytic, numeric: e.numeric))
            }
        }
        // Leave the layer's buffers holding the unperturbed forward pass.
        _ = try layer.forward(input)
        return report
    }

    /// Checks `loss.backward()` against central differences of `loss.forward` at `output`.
    static func check(
        _ loss: Loss, output: Tensor, labels: [Int32], step: Float = 1e-2, relativeTolerance: Double = 1e-2
    ) throws -> Report {
        func value() throws -> Double {
            try labels.withUnsafeBufferPointer { try loss.forward(output, labels: $0) }
        }
        _ = try value()
        let analytic = loss.backward().values
        var numeric: [Double] = []
        for i in 0..<output.count {
            let original = output[i]
            let plus = original + step, minus = original - step
            output[i] = plus
            let up = try value()
            output[i] = minus
            let down = try value()
            output[i] = original
            numeric.append((up - down) / (Double(plus) - Double(minus)))
        }
        var report = Report()
        let scale = max(numeric.map(abs).max() ?? 0, 1e-5)
        for i in 0..<numeric.count {
            let a = Double(analytic[i]), n = numeric[i]
            report.compared += 1
            if abs(a - n) > relativeTolerance * max(abs(a), abs(n)) + 1e-3 * scale {
                report.mismatches.append(Mismatch(tensor: "output", index: i, analytic: a, numeric: n))
            }
        }
        return report
    }

    // MARK: inputs

    /// A tensor of standard normal values.
    static func normal(_ shape: [Int], seed: UInt64) throws -> Tensor {
        var rng = RandomGenerator(seed: seed)
        let count = shape.reduce(1, *)
        return try Tensor(shape: shape, values: (0..<count).map { _ in rng.normal() })
    }

    /// Values whose magnitude is at least `gap` (random sign): clear of the kink at zero.
    static func awayFromZero(_ shape: [Int], gap: Float = 0.1, seed: UInt64) throws -> Tensor {
        var rng = RandomGenerator(seed: seed)
        let count = shape.reduce(1, *)
        return try Tensor(shape: shape, values: (0..<count).map { _ in
            let magnitude = rng.uniform(gap, 1.5)
            return rng.nextFloat() < 0.5 ? -magnitude : magnitude
        })
    }

    /// Distinct values spaced `spacing` apart in random order: no two within a pooling window
    /// are closer than `spacing`, so a step smaller than `spacing / 2` never changes the argmax.
    static func distinct(_ shape: [Int], spacing: Float = 0.05, seed: UInt64) throws -> Tensor {
        var rng = RandomGenerator(seed: seed)
        let count = shape.reduce(1, *)
        var values = (0..<count).map { Float($0) * spacing - Float(count) * spacing / 2 }
        for i in stride(from: count - 1, to: 0, by: -1) { values.swapAt(i, rng.nextInt(below: i + 1)) }
        return try Tensor(shape: shape, values: values)
    }
}
