/// FLOPs of a model, counted from its layer shapes, for budgets in FLOPs and the `flops`
/// column of results.csv.
///
/// What is counted, exactly:
/// - the forward pass's multiply-adds (MACs) of the layers that multiply by weights: a
///   `Linear(in → out)` does `in · out` per example, a `Conv2d` with `C` input and `O` output
///   channels, a `k × k` kernel and an `OH × OW` output does `O · OH · OW · C · k · k`;
///   a MAC is 2 FLOPs, so forward FLOPs = 2 · MACs;
/// - the backward pass as twice the forward (the gradient with respect to the input and with
///   respect to the weights, one product each), so a training step costs
///   `3 · 2 · MACs = 6 · MACs` FLOPs per example: the convention of Kaplan et al., "Scaling
///   Laws for Neural Language Models" (2020), C ≈ 6N per example for N multiply-adds.
///
/// Not counted: biases, activations, pooling, BatchNorm, dropout, residual additions, the loss
/// and the optimizer's update (all linear in the activations or parameters, not in their
/// product), nor the input gradient that budgetrain skips in the first layer (the count is
/// the convention, not what this engine happens to compute).
public enum FLOPCount {
    /// Forward multiply-adds of `model` for one example of `sampleShape` (no batch dimension).
    public static func forwardMultiplyAdds(_ model: Layer, sampleShape: [Int]) throws -> Int {
        try multiplyAdds(model, inputShape: [1] + sampleShape).macs
    }

    /// `2 · MACs`: the forward FLOPs of one example.
    public static func forwardFLOPsPerExample(_ model: Layer, sampleShape: [Int]) throws -> Double {
        2 * Double(try forwardMultiplyAdds(model, sampleShape: sampleShape))
    }

    /// `6 · MACs`: forward and backward FLOPs of one example in a training step.
    public static func trainingFLOPsPerExample(_ model: Layer, sampleShape: [Int]) throws -> Double {
        3 * (try forwardFLOPsPerExample(model, sampleShape: sampleShape))
    }

    /// The multiply-adds of `layer` and its descendants for an input of `inputShape` (batch
    /// of one), and the layer's output shape. Children that run one after another see each
    /// other's outputs; the branches of other containers (`Residual`) all see the input.
    static func multiplyAdds(_ layer: Layer, inputShape: [Int]) throws -> (macs: Int, outputShape: [Int]) {
        var total = try (layer as? MultiplyAddCounting)?.forwardMultiplyAdds(inputShape: inputShape) ?? 0
        var shape = inputShape
        for child in layer.children {
            let (macs, out) = try multiplyAdds(child, inputShape: shape)
            total += macs
            if layer.chainsChildren { shape = out }
        }
        return (total, try layer.outputShape(for: inputShape))
    }
}

/// A layer whose forward pass multiplies by weights: what `FLOPCount` counts.
public protocol MultiplyAddCounting {
    /// Multiply-adds of one forward pass over an input of `inputShape` (batch dimension first).
    func forwardMultiplyAdds(inputShape: [Int]) throws -> Int
}

extension Linear: MultiplyAddCounting {
    /// `N · in · out` for an input `[N, in]`.
    public func forwardMultiplyAdds(inputShape: [Int]) throws -> Int {
        let out = try outputShape(for: inputShape)
        return out[0] * inputs * outputs
    }
}

extension Conv2d: MultiplyAddCounting {
    /// `N · out · OH · OW · in · k · k` for an input `[N, in, H, W]`.
    public func forwardMultiplyAdds(inputShape: [Int]) throws -> Int {
        let out = try outputShape(for: inputShape)
        return out[0] * outChannels * out[2] * out[3] * inChannels * kernel * kernel
    }
}
