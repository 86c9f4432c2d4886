/// Flattens every dimension after the batch: `[N, C, H, W] -> [N, C·H·W]`.
///
/// Copies rather than aliases, so that the layer before keeps its own buffer intact.
public final class Flatten: Layer, InputGradientOptional {
    public var isTraining = true
    public var needsInputGradient = true
    private let output = Tensor(shape: [0])
    private let gradInput = Tensor(shape: [0])
    private var inputShape: [Int] = []

    public init() {}

    public var summary: String { "Flatten" }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard !inputShape.isEmpty else { throw shapeError(self, expected: "[N, ...]", got: inputShape) }
        return [inputShape[0], inputShape.dropFirst().reduce(1, *)]
    }

    public func forward(_ x: Tensor) throws -> Tensor {
        guard !x.shape.isEmpty else { throw shapeError(self, expected: "[N, ...]", got: x.shape) }
        if inputShape != x.shape { inputShape = x.shape }
        output.resize(batch: x.batchSize, like: [x.batchSize, x.elementsPerItem])
        output.copy(from: x)
        return output
    }

    public func backward(_ dy: Tensor) throws -> Tensor {
        guard dy.count == Tensor.elementCount(inputShape) else {
            throw shapeError(self, expected: "gradient \(output.shape.shapeString)", got: dy.shape)
        }
        gradInput.resize(batch: inputShape[0], like: inputShape)
        if needsInputGradient { gradInput.copy(from: dy) }
        return gradInput
    }
}
