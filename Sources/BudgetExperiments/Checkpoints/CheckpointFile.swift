import BudgetEngine
import Foundation

/// A run's `TrainingState` as a safetensors file: each named array a tensor (F32, F64, U64 or
/// I64), the scalars in the header's `__metadata__`, plus `format` = `budgetrain-checkpoint-1`.
/// A researcher opens one with `safetensors.numpy.load_file(path)` (the tensors) and
/// `safe_open(path, "numpy").metadata()` (the rest).
public enum CheckpointFile {
    public static let format = "budgetrain-checkpoint-1"

    public static func write(_ state: TrainingState, to path: String) throws {
        var file = SafeTensors(entries: [], metadata: state.info)
        file.metadata["format"] = format
        for (name, array) in state.arrays {
            switch array.values {
            case let .float32(v): file.entries.append(.init(name: name, floats: v, shape: array.shape))
            case let .float64(v): file.entries.append(.init(name: name, doubles: v, shape: array.shape))
            case let .uint64(v): file.entries.append(.init(name: name, words: v, shape: array.shape))
            case let .int64(v): file.entries.append(.init(name: name, integers: v, shape: array.shape))
            }
        }
        try file.write(to: path)
    }

    /// Reads a checkpoint, or a plain safetensors file of tensors (`model:load` takes both).
    public static func read(path: String) throws -> TrainingState {
        let file = try SafeTensors.read(path: path)
        var state = TrainingState(info: file.metadata)
        for entry in file.entries {
            let values: NamedArray.Values
            switch entry.dtype {
            case .F32: values = .float32(try entry.floats())
            case .F64: values = .float64(try entry.doubles())
            case .U64: values = .uint64(try entry.words())
            case .I64: values = .int64(try entry.integers())
            default:
                throw EngineError.dataFile(path: path, message: "tensor '\(entry.name)' is \(entry.dtype.rawValue); checkpoints hold F32, F64, U64 and I64 tensors")
            }
            state.arrays[entry.name] = NamedArray(shape: entry.shape, values: values)
        }
        return state
    }

    /// A model's parameters, buffers and random streams (`model.*`), as `model:save` writes them.
    public static func writeModel(_ model: Layer, to path: String) throws {
        try write(TrainingState(arrays: try model.stateArrays(), info: ["model": model.summary]), to: path)
    }

    /// Loads `model.*` from a model file or a checkpoint into `model`; errors name the file.
    public static func loadModel(_ model: Layer, from path: String) throws {
        let state = try read(path: path)
        do { try model.loadStateArrays(state.arrays) } catch let error as EngineError {
            throw EngineError.dataFile(path: path, message: error.description)
        }
    }
}

/// Writes a run's checkpoints to `path`: makes its metrics (if any) durable first and records
/// how far they go, so a resumed run cuts them back to the same point.
public final class RunCheckpointWriter: CheckpointSink {
    public let path: String
    public let metrics: MetricsLog?

    public init(path: String, metrics: MetricsLog?) {
        self.path = path
        self.metrics = metrics
    }

    public func save(_ state: TrainingState) throws {
        var state = state
        if let metrics { state.info.merge(try metrics.flush().info) { _, new in new } }
        try CheckpointFile.write(state, to: path)
    }
}
