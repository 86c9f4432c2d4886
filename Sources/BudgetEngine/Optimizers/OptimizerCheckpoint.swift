extension OptimizerState {
    /// The state as checkpoint arrays, `optim.<parameter name>.<buffer>` (e.g.
    /// `optim.model.1.weight.momentum`), plus `optim.kind`, `optim.step` and each scalar as
    /// `optim.<scalar>` (e.g. `optim.weight_sum`) in `info`. `names[i]` is the state name of
    /// parameter `i`.
    public func arrays(names: [String], shapes: [[Int]]) -> (arrays: [String: NamedArray], info: [String: String]) {
        var arrays: [String: NamedArray] = [:]
        for (buffer, perParameter) in buffers {
            for (i, values) in perParameter.enumerated() where i < names.count {
                arrays["optim.\(names[i]).\(buffer)"] = NamedArray(shape: shapes[i], values: .float32(values))
            }
        }
        var info = ["optim.kind": kind, "optim.step": String(step)]
        for (name, value) in scalars { info["optim." + name] = "\(value)" }
        return (arrays, info)
    }

    /// Reads back what `arrays(names:shapes:)` wrote, for an optimizer whose own (fresh) state
    /// is `template`: the same buffers, each checked against the parameters' sizes by `load`.
    public init(from state: TrainingState, names: [String], template: OptimizerState) throws {
        guard let kind = state.info["optim.kind"] else { throw TrainingState.missing("optim.kind", "text") }
        guard kind == template.kind else {
            throw EngineError.invalidArgument("checkpoint: the optimizer was \(kind), this run uses \(template.kind)")
        }
        var buffers: [String: [[Float]]] = [:]
        for (buffer, fresh) in template.buffers {
            // An optimizer without a buffer (SGD without momentum) keeps an empty list.
            guard !fresh.isEmpty else { buffers[buffer] = []; continue }
            buffers[buffer] = try names.map { name in
                let key = "optim.\(name).\(buffer)"
                guard case let .float32(values) = try state.array(key).values else {
                    throw EngineError.invalidArgument("checkpoint: '\(key)' must hold F32 values")
                }
                return values
            }
        }
        var scalars: [String: Double] = [:]
        for name in template.scalars.keys { scalars[name] = try state.number("optim." + name) }
        self.init(kind: kind, step: try state.integer("optim.step"), buffers: buffers, scalars: scalars)
    }
}
