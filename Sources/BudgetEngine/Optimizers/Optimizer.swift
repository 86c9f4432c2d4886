/// Updates parameters from their accumulated gradients.
///
/// An optimizer holds no schedule: the trainer passes the learning rate of each step, computed
/// from the run's progress. Its internal state (momentum buffers, moment estimates, step count)
/// can be saved and restored for checkpoints.
public protocol Optimizer: AnyObject {
    var parameters: [Parameter] { get }
    /// Applies the accumulated gradients and leaves them zero for the next backward pass
    /// (zeroing them in the same loop saves the trainer a pass over every gradient).
    func step(learningRate: Float)
    /// The internal state, for checkpoints.
    func state() -> OptimizerState
    /// Restores state saved by `state()` from an optimizer over parameters of the same shapes.
    func load(_ state: OptimizerState) throws
}

/// An optimizer's internal state: named buffers per parameter, a step count, and named scalars.
public struct OptimizerState: Codable, Equatable, Sendable {
    public var kind: String
    public var step: Int
    /// `buffers[name][i]` is the buffer `name` of parameter `i` (empty before the first step).
    public var buffers: [String: [[Float]]]
    /// Scalars besides the step count (schedule-free's running weight sum), by name; saved
    /// exactly (as the shortest text that reads back to the same Double).
    public var scalars: [String: Double]

    public init(kind: String, step: Int, buffers: [String: [[Float]]], scalars: [String: Double] = [:]) {
        self.kind = kind
        self.step = step
        self.buffers = buffers
        self.scalars = scalars
    }
}

/// The settings of an optimizer without its parameters: what a script declares once and every
/// run of a sweep turns into a fresh optimizer for its fresh model.
public protocol OptimizerSpec: CustomStringConvertible, Sendable {
    /// The base learning rate the schedule multiplies.
    var learningRate: Double { get set }
    /// The weight decay (coupled or decoupled, as the optimizer applies it).
    var weightDecay: Double { get set }
    func make(for parameters: [Parameter]) -> Optimizer
    /// Settings as plain values, for the run's recorded configuration.
    var settings: [String: Double] { get }
    /// Whether its optimizers evaluate weights of their own (`EvaluationWeights`: schedule-free's
    /// averaged iterate) rather than the ones they train.
    var providesEvaluationWeights: Bool { get }
}

extension OptimizerSpec {
    public var providesEvaluationWeights: Bool { false }
}

extension OptimizerSpec {
    /// The same settings with another base learning rate (an experiment varying `lr`).
    public func withLearningRate(_ lr: Double) throws -> OptimizerSpec {
        guard lr >= 0, lr.isFinite else { throw EngineError.invalidArgument("lr must be a finite number >= 0, got \(lr)") }
        var copy = self
        copy.learningRate = lr
        return copy
    }

    /// The same settings with another weight decay (an experiment varying `weight_decay`).
    public func withWeightDecay(_ decay: Double) throws -> OptimizerSpec {
        guard decay >= 0, decay.isFinite else { throw EngineError.invalidArgument("weight_decay must be a finite number >= 0, got \(decay)") }
        var copy = self
        copy.weightDecay = decay
        return copy
    }
}

/// Allocates one zeroed buffer per parameter.
func zeroBuffers(like parameters: [Parameter]) -> [Tensor] {
    parameters.map { Tensor(shape: $0.value.shape) }
}

extension Array where Element == Tensor {
    var asArrays: [[Float]] { map { $0.values } }

    /// Checks that saved arrays fit these buffers (count and sizes), without copying.
    func validate(_ arrays: [[Float]]?, name: String, kind: String) throws {
        guard let arrays else {
            throw EngineError.invalidArgument("\(kind) state: missing buffer '\(name)'")
        }
        guard arrays.count == count else {
            throw EngineError.invalidArgument("\(kind) state: '\(name)' has \(arrays.count) buffers for \(count) parameters")
        }
        for (tensor, values) in zip(self, arrays) where values.count != tensor.count {
            throw EngineError.invalidArgument("\(kind) state: '\(name)' buffer of \(values.count) values for a parameter of \(tensor.count)")
        }
    }

    /// Copies saved arrays into these buffers; call `validate` on every buffer of a state
    /// first, so a bad state changes nothing.
    func load(_ arrays: [[Float]]?, name: String, kind: String) throws {
        try validate(arrays, name: name, kind: kind)
        for (tensor, values) in zip(self, arrays ?? []) {
            values.withUnsafeBufferPointer { buffer in
                if let base = buffer.baseAddress { tensor.data.update(from: base, count: values.count) }
            }
        }
    }
}
