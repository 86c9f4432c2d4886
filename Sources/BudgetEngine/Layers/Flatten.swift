/// Flattens every dimension after the batch: `[N, C, H, W] -> [N, C·H·W]`.
///
/// Copies nothing: its output is a view of its input, and its input gradient a view of the
/// output gradient (no layer writes to the tensors it is handed).
public final class Flatten: Layer {
    public var isTraining = true
    private let output = Tensor(shape: [0])
    private let gradInput = Tensor(shape: [0])
    private var inputShape: [Int] = []
    private var flatShape: [Int] = []

    public init() {}

    public var summary: String { "Flatten" }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard !inputShape.isEmpty else { throw shapeError(self, expected: "[N, ...]", got: inputShape) }
        guard let features = TensorSize.product(Array(inputShape.dropFirst())), features <= TensorSize.maximumElements else {
            throw shapeError(self, expected: "[N, ...] of at most \(TensorSize.maximumElements) values per example", got: inputShape)
        }
        return [inputShape[0], features]
    }

    public func forward(_ x: Tensor) throws -> Tensor {
        guard !x.shape.isEmpty else { throw shapeError(self, expected: "[N, ...]", got: x.shape) }
        if inputShape != x.shape {
            inputShape = x.shape
            flatShape = [x.batchSize, x.elementsPerItem]
        }
        try output.view(of: x, as: flatShape)
        return output
    }

    public func backward(_ dy: Tensor) throws -> Tensor {
        guard dy.count == Tensor.elementCount(inputShape) else {
            throw shapeError(self, expected: "gradient \(output.shape.shapeString)", got: dy.shape)
        }
        try gradInput.view(of: dy, as: inputShape)
        return gradInput
    }
}
