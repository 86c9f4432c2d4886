/// Runs its layers one after another; the output of each is the input of the next.
///
/// Errors from a child carry its position, so a shape mismatch reads
/// `Sequential[3] Linear(100 -> 10): expected input [N, 100], got [128, 64]`.
/// A model nests at most `maximumModelDepth` levels: adding a layer that would nest it
/// deeper throws (see `ModelNesting`).
public final class Sequential: ContainerLayer {
    public private(set) var layers: [Layer] = []
    public var isTraining = true
    public let nesting = ModelNesting()

    public init(_ layers: [Layer] = []) throws {
        try ModelNesting.adopt(layers, into: self)
        self.layers = layers
    }

    public func append(_ layer: Layer) throws {
        try ModelNesting.adopt([layer], into: self)
        layers.append(layer)
    }

    public var summary: String { "Sequential" }
    public var children: [Layer] { layers }
    public var chainsChildren: Bool { true }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        var shape = inputShape
        for (i, layer) in layers.enumerated() {
            do { shape = try layer.outputShape(for: shape) } catch let e as EngineError {
                throw e.prefixingPath("Sequential[\(i + 1)]")
            }
        }
        return shape
    }

    public func forward(_ input: Tensor) throws -> Tensor {
        var x = input
        for i in layers.indices {
            do { x = try layers[i].forward(x) } catch let e as EngineError {
                throw e.prefixingPath("Sequential[\(i + 1)]")
            }
        }
        return x
    }

    public func backward(_ gradOutput: Tensor) throws -> Tensor {
        var g = gradOutput
        for i in layers.indices.reversed() {
            do { g = try layers[i].backward(g) } catch let e as EngineError {
                throw e.prefixingPath("Sequential[\(i + 1)]")
            }
        }
        return g
    }
}
