/// Layers that draw random numbers while training (Dropout's masks) expose their generator, so
/// that a checkpoint can save it and a resumed run draws the same numbers.
public protocol RandomStateHolder: AnyObject {
    var randomState: RandomGenerator { get set }
}

/// How deep a model may nest before state walks refuse it (far beyond any real model; a
/// script that nests deeper gets an error, not a stack overflow).
public let maximumModelDepth = 200

extension Layer {
    /// The trainable parameters with their state names (`model.1.weight`), in the order of
    /// `parameters` (the order optimizers keep their buffers in).
    public func namedParameters(prefix: String = "model") throws -> [(name: String, parameter: Parameter)] {
        var out: [(String, Parameter)] = []
        try walkState(prefix: prefix, depth: 0) { path, layer in
            for p in layer.ownParameters { out.append((path + "." + p.name, p)) }
        }
        return out
    }

    /// Parameters, buffers and random streams of this layer and its descendants, by name.
    public func stateArrays(prefix: String = "model") throws -> [String: NamedArray] {
        var arrays: [String: NamedArray] = [:]
        try walkState(prefix: prefix, depth: 0) { path, layer in
            for p in layer.ownParameters { arrays[path + "." + p.name] = NamedArray(p.value) }
            for b in layer.ownBuffers { arrays[path + "." + b.name] = NamedArray(b.tensor) }
            if let holder = layer as? RandomStateHolder {
                arrays[path + ".generator"] = NamedArray(shape: [4], values: .uint64(holder.randomState.words))
            }
        }
        return arrays
    }

    /// Loads what `stateArrays` saved. Every name and shape is checked before anything is
    /// copied, so a file that does not fit leaves the model as it was; the error lists what
    /// is missing, unexpected, or of another shape. Names not under `prefix` are ignored
    /// (a checkpoint also holds optimizer and run state).
    public func loadStateArrays(_ arrays: [String: NamedArray], prefix: String = "model") throws {
        var tensors: [(String, Tensor)] = []
        var holders: [(String, RandomStateHolder)] = []
        try walkState(prefix: prefix, depth: 0) { path, layer in
            for p in layer.ownParameters { tensors.append((path + "." + p.name, p.value)) }
            for b in layer.ownBuffers { tensors.append((path + "." + b.name, b.tensor)) }
            if let holder = layer as? RandomStateHolder { holders.append((path + ".generator", holder)) }
        }
        var problems: [String] = []
        let expected = Set(tensors.map(\.0) + holders.map(\.0))
        for (name, tensor) in tensors {
            guard let a = arrays[name] else { problems.append("missing '\(name)'"); continue }
            if a.shape != tensor.shape || a.values.count != tensor.count {
                problems.append("'\(name)' has shape \(a.shape.shapeString), the model's is \(tensor.shape.shapeString)")
            } else if case .float32 = a.values {} else {
                problems.append("'\(name)' holds \(a.values.typeName) values, F32 expected")
            }
        }
        var generators: [(RandomStateHolder, RandomGenerator)] = []
        for (name, holder) in holders {
            guard let a = arrays[name] else { problems.append("missing '\(name)'"); continue }
            guard case let .uint64(words) = a.values, let g = RandomGenerator(words: words) else {
                problems.append("'\(name)' is not a random generator state (4 non-zero U64 words)")
                continue
            }
            generators.append((holder, g))
        }
        let unexpected = arrays.keys.filter { $0.hasPrefix(prefix + ".") && !expected.contains($0) }.sorted()
        problems += unexpected.prefix(5).map { "unexpected '\($0)'" }
        if unexpected.count > 5 { problems.append("\(unexpected.count - 5) more unexpected names") }
        guard problems.isEmpty else {
            let shown = problems.prefix(8).joined(separator: "; ")
            throw EngineError.invalidArgument("the saved state does not fit this model: \(shown)\(problems.count > 8 ? "; ..." : "")")
        }
        for (name, tensor) in tensors { try arrays[name]?.load(into: tensor, name: name) }
        for (holder, g) in generators { holder.randomState = g }
    }

    /// Calls `visit` for this layer and each descendant, depth first, with its state path.
    func walkState(prefix: String, depth: Int, _ visit: (String, Layer) throws -> Void) throws {
        guard depth < maximumModelDepth else {
            throw EngineError.invalidArgument("the model nests more than \(maximumModelDepth) levels deep")
        }
        try visit(prefix, self)
        for (i, child) in children.enumerated() {
            try child.walkState(prefix: prefix + "." + stateName(ofChild: i), depth: depth + 1, visit)
        }
    }
}
