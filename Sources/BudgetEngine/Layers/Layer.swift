/// A trainable tensor together with its gradient.
///
/// `gradient` accumulates: every backward pass adds to it, and the trainer zeroes it before each
/// step. That is what lets a probe sum the gradient over a whole dataset.
public final class Parameter {
    /// Role of the parameter inside its layer (`weight`, `bias`), for state files and messages.
    public let name: String
    public let value: Tensor
    public let gradient: Tensor

    public init(name: String, shape: [Int]) {
        self.name = name
        self.value = Tensor(shape: shape)
        self.gradient = Tensor(shape: shape)
    }

    /// A parameter whose shape comes from a user's layer sizes, checked first (see
    /// `TensorSize`) for the memory its training takes: value, gradient and up to two
    /// optimizer buffers (Adam's moments). `layer` names the layer in the error.
    public convenience init(name: String, checkedShape shape: [Int], of layer: @autoclosure () -> String) throws {
        _ = try TensorSize.elementCount(shape, of: "\(layer()) \(name)", copies: 4)
        self.init(name: name, shape: shape)
    }

    public var count: Int { value.count }
}

/// The contract every layer honours (as in Torch's `nn.Module`):
/// - `forward` computes the output for a batch and remembers what `backward` needs;
/// - `backward` takes the gradient of the loss with respect to the output, adds the gradients
///   of the layer's parameters to their `gradient` tensors, and returns the gradient with
///   respect to the input.
///
/// The tensors a layer returns are its own buffers, reused from one call to the next: read them
/// before calling the same layer again. Buffers are sized on the first batch of a given shape,
/// so the steady-state step allocates nothing.
public protocol Layer: AnyObject {
    /// One line saying what the layer is, e.g. `Linear(784 -> 256)`.
    var summary: String { get }
    /// Layers this one contains (containers only), in order.
    var children: [Layer] { get }
    /// This layer's own trainable parameters (not its children's).
    var ownParameters: [Parameter] { get }
    /// State that is not trained but must survive a checkpoint (BatchNorm's running
    /// statistics), by name, e.g. `running_mean`.
    var ownBuffers: [(name: String, tensor: Tensor)] { get }
    /// Training mode (dropout active, batch statistics) or evaluation mode.
    var isTraining: Bool { get set }

    /// Shape of the output for an input of shape `inputShape`; throws a shape mismatch naming
    /// the layer when the input does not fit.
    func outputShape(for inputShape: [Int]) throws -> [Int]
    func forward(_ input: Tensor) throws -> Tensor
    func backward(_ gradOutput: Tensor) throws -> Tensor

    /// How the tree printout labels child `index` (default: its 1-based position).
    func childLabel(_ index: Int) -> String
    /// Whether children run one after another, so the printout threads shapes through them.
    var chainsChildren: Bool { get }
    /// How state names call child `index` (default: its 0-based position, as PyTorch's
    /// `state_dict` names the children of `nn.Sequential`).
    func stateName(ofChild index: Int) -> String
}

extension Layer {
    public var children: [Layer] { [] }
    public var ownParameters: [Parameter] { [] }
    public var ownBuffers: [(name: String, tensor: Tensor)] { [] }
    public func stateName(ofChild index: Int) -> String { String(index) }

    /// All trainable parameters of this layer and its descendants, depth first.
    public var parameters: [Parameter] { ownParameters + children.flatMap { $0.parameters } }

    /// Number of trainable scalars.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }

    /// Sets training or evaluation mode on this layer and every descendant.
    public func setTraining(_ training: Bool) {
        isTraining = training
        for child in children { child.setTraining(training) }
    }

    /// Zeroes the accumulated gradients of every parameter.
    public func zeroGradients() {
        for p in parameters { p.gradient.zero() }
    }

    /// A Torch-style tree of the model, one layer per line, with output shapes when
    /// `inputShape` is given.
    public func treeDescription(inputShape: [Int]? = nil) -> String {
        var lines: [String] = []
        describe(into: &lines, indent: "", label: nil, inputShape: inputShape)
        return lines.joined(separator: "\n")
    }

    func describe(into lines: inout [String], indent: String, label: String?, inputShape: [Int]?) {
        let outShape = inputShape.flatMap { try? outputShape(for: $0) }
        var line = indent + (label.map { "(\($0)): " } ?? "") + summary
        if let outShape { line += "  -> " + outShape.shapeString }
        lines.append(line)
        var shape = inputShape
        for (i, child) in children.enumerated() {
            child.describe(into: &lines, indent: indent + "  ", label: childLabel(i), inputShape: shape)
            if chainsChildren { shape = shape.flatMap { try? child.outputShape(for: $0) } }
        }
    }

    public func childLabel(_ index: Int) -> String { String(index + 1) }
    public var chainsChildren: Bool { false }
}

/// Layers whose input gradient can be skipped when nothing upstream needs it (the first
/// layer of a model): saves a whole GEMM per step.
public protocol InputGradientOptional: AnyObject {
    var needsInputGradient: Bool { get set }
}

/// A layer's name in error messages: its position (filled in by containers) and summary.
func shapeError(_ layer: Layer, expected: String, got: [Int]) -> EngineError {
    .shapeMismatch(path: layer.summary, expected: expected, got: got)
}
