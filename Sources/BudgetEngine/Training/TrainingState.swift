/// Everything a run needs to continue bit for bit, as named arrays and named values: what a
/// checkpoint file holds. The engine builds and reads it; the experiment layer stores it (as
/// safetensors: the arrays as tensors, `info` as the header's `__metadata__`).
///
/// Names follow PyTorch's `state_dict` where there is one:
///
///     model.1.weight, model.1.bias            parameters (children by 0-based position;
///     model.3.block.0.running_mean            a Residual's branches are `block`, `shortcut`)
///     model.5.generator                       a Dropout layer's random stream (4 × u64)
///     optim.model.1.weight.momentum           optimizer buffers, per parameter
///     run.recent_losses                       the trainer's recent-loss window (f64)
///
/// `info` holds the scalars (step, elapsed seconds, optimizer step count, evaluations so far
/// as JSON, ...), each as text that reads back to the same value.
public struct TrainingState: Sendable, Equatable {
    public var arrays: [String: NamedArray]
    public var info: [String: String]

    public init(arrays: [String: NamedArray] = [:], info: [String: String] = [:]) {
        self.arrays = arrays
        self.info = info
    }

    /// The value of `info[key]` as an integer, or an error naming the key.
    public func integer(_ key: String) throws -> Int {
        guard let text = info[key], let n = Int(text) else { throw Self.missing(key, "an integer") }
        return n
    }

    /// The value of `info[key]` as a Double (exact: Swift prints the shortest text that reads back).
    public func number(_ key: String) throws -> Double {
        guard let text = info[key], let x = Double(text) else { throw Self.missing(key, "a number") }
        return x
    }

    public func array(_ name: String) throws -> NamedArray {
        guard let a = arrays[name] else { throw EngineError.invalidArgument("checkpoint: no tensor '\(name)'") }
        return a
    }

    static func missing(_ key: String, _ kind: String) -> EngineError {
        .invalidArgument("checkpoint: metadata '\(key)' is missing or not \(kind)")
    }
}

/// One array of a `TrainingState`: a shape and its values in one of the element types a
/// checkpoint stores.
public struct NamedArray: Sendable, Equatable {
    public enum Values: Sendable, Equatable {
        case float32([Float])
        case float64([Double])
        case uint64([UInt64])
        case int64([Int64])

        public var count: Int {
            switch self {
            case let .float32(v): return v.count
            case let .float64(v): return v.count
            case let .uint64(v): return v.count
            case let .int64(v): return v.count
            }
        }

        /// The element type's name, as in safetensors (`F32`, `F64`, `U64`, `I64`).
        public var typeName: String {
            switch self {
            case .float32: return "F32"
            case .float64: return "F64"
            case .uint64: return "U64"
            case .int64: return "I64"
            }
        }
    }

    public var shape: [Int]
    public var values: Values

    public init(shape: [Int], values: Values) {
        self.shape = shape
        self.values = values
    }

    public init(_ tensor: Tensor) {
        self.init(shape: tensor.shape, values: .float32(tensor.values))
    }

    /// Copies the values into `tensor`, which must have the same shape; errors name `name`.
    public func load(into tensor: Tensor, name: String) throws {
        guard case let .float32(v) = values else {
            throw EngineError.invalidArgument("checkpoint: '\(name)' holds \(values.typeName) values, F32 expected")
        }
        guard shape == tensor.shape, v.count == tensor.count else {
            throw EngineError.invalidArgument("checkpoint: '\(name)' has shape \(shape.shapeString), the model's is \(tensor.shape.shapeString)")
        }
        v.withUnsafeBufferPointer { buffer in
            if let base = buffer.baseAddress { tensor.data.update(from: base, count: v.count) }
        }
    }
}
