/// Inverted dropout (PyTorch's `nn.Dropout`): in training mode each element is zeroed with
/// probability `p` and the survivors are scaled by `1/(1 − p)`, so the expected output equals the
/// input; in evaluation mode the layer is the identity.
///
///     y = x · mask / (1 − p),   mask ~ Bernoulli(1 − p) elementwise;   dx = dy · mask / (1 − p)
///
/// The masks come from the layer's own generator, seeded at construction from the model's
/// initialisation generator, so a run's seed fixes every mask. Each forward pass draws one
/// seed from it and splits the tensor into fixed blocks, each with its own sub-stream: the
/// blocks fill in parallel and the masks do not depend on the thread count.
public final class Dropout: Layer, RandomStateHolder {
    public let probability: Float
    public var isTraining = true

    private var generator: RandomGenerator
    /// The mask generator, saved with checkpoints so a resumed run draws the same masks.
    public var randomState: RandomGenerator {
        get { generator }
        set { generator = newValue }
    }
    private let output = Tensor(shape: [0])
    private let gradInput = Tensor(shape: [0])
    /// `mask / (1 − p)` of the last training-mode forward pass: 0 or the survivor scale.
    private let scaledMask = Tensor(shape: [0])
    private var forwardWasIdentity = true
    private static let blockSize = 4096

    public init(p: Float = 0.5, rng: inout RandomGenerator) throws {
        guard p >= 0, p < 1 else { throw EngineError.invalidArgument("Dropout: p must be in [0, 1), got \(p)") }
        probability = p
        generator = RandomGenerator(seed: rng.next())
    }

    public var summary: String { "Dropout(p=\(probability))" }
    public func outputShape(for inputShape: [Int]) throws -> [Int] { inputShape }

    /// In evaluation mode (or with p = 0) the input itself is returned: the identity copies nothing.
    public func forward(_ x: Tensor) throws -> Tensor {
        forwardWasIdentity = !isTraining || probability == 0
        if forwardWasIdentity { return x }
        try output.resize(batch: x.batchSize, like: x.shape, for: "\(summary) output")
        try scaledMask.resize(batch: x.batchSize, like: x.shape, for: "\(summary) dropout mask")
        let seed = generator.next()
        let keep = 1 - probability, scale = 1 / (1 - probability)
        let src = x.data, dst = output.data, mask = scaledMask.data, count = x.count
        let block = Dropout.blockSize
        let blocks = (count + block - 1) / block
        parallelRanges(blocks, minimumPerThread: 16) { range in
            for b in range {
                var rng = RandomGenerator(seed: seed, stream: UInt64(b))
                for i in (b * block)..<min((b + 1) * block, count) {
                    let m: Float = rng.nextFloat() < keep ? scale : 0
                    mask[i] = m
                    dst[i] = src[i] * m
                }
            }
        }
        return output
    }

    public func backward(_ dy: Tensor) throws -> Tensor {
        if forwardWasIdentity { return dy }
        guard dy.count == scaledMask.count else {
            throw shapeError(self, expected: "gradient \(scaledMask.shape.shapeString) after forward", got: dy.shape)
        }
        try gradInput.resize(batch: dy.batchSize, like: dy.shape, for: "\(summary) input gradient")
        let g = dy.data, mask = scaledMask.data, dx = gradInput.data
        parallelRanges(dy.count, minimumPerThread: 1 << 16) { range in
            for i in range { dx[i] = g[i] * mask[i] }
        }
        return gradInput
    }
}
