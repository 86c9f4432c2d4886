/// A residual connection: `y = block(x) + shortcut(x)`, where the shortcut is the identity
/// when none is given, or a layer (typically a 1x1 convolution + batch norm projection when the
/// block changes the shape). Backward: `dx = block'ᵀ·dy + shortcut'ᵀ·dy` (`+ dy` for the
/// identity).
///
/// Errors from inside carry the branch, e.g. `Residual.block Sequential[2] Conv2d(...)`.
///
/// ```swift
/// let block = Sequential([
///     try Conv2d(inChannels: 16, outChannels: 32, kernel: 3, stride: 2, padding: 1, bias: false, rng: &rng),
///     try BatchNorm(channels: 32, kind: .twoD), ReLU(),
///     try Conv2d(inChannels: 32, outChannels: 32, kernel: 3, padding: 1, bias: false, rng: &rng),
///     try BatchNorm(channels: 32, kind: .twoD),
/// ])
/// let projection = Sequential([
///     try Conv2d(inChannels: 16, outChannels: 32, kernel: 1, stride: 2, bias: false, rng: &rng),
///     try BatchNorm(channels: 32, kind: .twoD),
/// ])
/// let unit = Residual(block: block, shortcut: projection)   // [N, 16, H, W] -> [N, 32, H/2, W/2]
/// ```
public final class Residual: ContainerLayer {
    public let block: Layer
    public let shortcut: Layer?
    public var isTraining = true
    public let nesting = ModelNesting()

    private let output = Tensor(shape: [0])
    private let gradInput = Tensor(shape: [0])

    /// Throws when the branches would nest the model more than `maximumModelDepth` levels.
    public init(block: Layer, shortcut: Layer? = nil) throws {
        self.block = block
        self.shortcut = shortcut
        try ModelNesting.adopt([block] + (shortcut.map { [$0] } ?? []), into: self)
    }

    public var summary: String { "Residual" }
    public var children: [Layer] { shortcut.map { [block, $0] } ?? [block] }
    public func childLabel(_ index: Int) -> String { index == 0 ? "block" : "shortcut" }
    public func stateName(ofChild index: Int) -> String { childLabel(index) }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        let blockShape = try inBlock { try block.outputShape(for: inputShape) }
        let shortcutShape = try shortcut.map { s in try inShortcut { try s.outputShape(for: inputShape) } } ?? inputShape
        try checkBranchesAgree(blockShape, shortcutShape, input: inputShape)
        return blockShape
    }

    public func forward(_ x: Tensor) throws -> Tensor {
        let fromBlock = try inBlock { try block.forward(x) }
        let fromShortcut = try shortcut.map { s in try inShortcut { try s.forward(x) } } ?? x
        if fromBlock.shape != fromShortcut.shape {
            try checkBranchesAgree(fromBlock.shape, fromShortcut.shape, input: x.shape)
        }
        try output.resize(batch: fromBlock.batchSize, like: fromBlock.shape, for: "\(summary) output")
        let a = fromBlock.data, b = fromShortcut.data, y = output.data
        parallelRanges(output.count, minimumPerThread: 1 << 16) { range in
            for i in range { y[i] = a[i] + b[i] }
        }
        return output
    }

    public func backward(_ dy: Tensor) throws -> Tensor {
        guard dy.shape == output.shape else {
            throw shapeError(self, expected: "gradient \(output.shape.shapeString) after forward", got: dy.shape)
        }
        let throughBlock = try inBlock { try block.backward(dy) }
        let throughShortcut = try shortcut.map { s in try inShortcut { try s.backward(dy) } } ?? dy
        guard throughBlock.count == throughShortcut.count else {
            throw shapeError(self, expected: "branch input gradients of equal size \(throughBlock.shape.shapeString)", got: throughShortcut.shape)
        }
        try gradInput.resize(batch: throughBlock.batchSize, like: throughBlock.shape, for: "\(summary) input gradient")
        let a = throughBlock.data, b = throughShortcut.data, dx = gradInput.data
        parallelRanges(gradInput.count, minimumPerThread: 1 << 16) { range in
            for i in range { dx[i] = a[i] + b[i] }
        }
        return gradInput
    }

    private func checkBranchesAgree(_ blockShape: [Int], _ shortcutShape: [Int], input: [Int]) throws {
        guard blockShape != shortcutShape else { return }
        let what = shortcut == nil ? "identity shortcut" : "shortcut"
        throw shapeError(
            self,
            expected: "for which block and \(what) give the same shape (block gives \(blockShape.shapeString), "
                + "\(what) gives \(shortcutShape.shapeString); a projection shortcut can match them)",
            got: input)
    }

    private func inBlock<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as EngineError { throw e.prefixingPath("Residual.block") }
    }

    private func inShortcut<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as EngineError { throw e.prefixingPath("Residual.shortcut") }
    }
}
