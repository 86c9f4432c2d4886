import BudgetEngine

/// Checks on how scripts assemble models.
///
/// A layer keeps the buffers of its last forward pass for its backward pass, so one layer
/// object may appear only once in a model; and a container inside itself would recurse for
/// ever. Both are refused when the module is added, with a message saying what to do.
enum ModelStructure {
    /// Appends `child` to `container` unless that would put a layer in the model twice.
    static func append(_ child: Layer, to container: Sequential) throws {
        var inContainer = Set<ObjectIdentifier>()
        collect(container, into: &inContainer)
        if let shared = firstShared(child, inContainer) {
            let what = shared === child ? child.summary : "\(shared.summary) (inside \(child.summary))"
            throw BindingError("\(what) is already part of this model: a module can appear only once (each position needs its own, e.g. a new nn.ReLU())")
        }
        try container.append(child)
    }

    private static func collect(_ layer: Layer, into set: inout Set<ObjectIdentifier>) {
        guard set.insert(ObjectIdentifier(layer)).inserted else { return }
        for child in layer.children { collect(child, into: &set) }
    }

    private static func firstShared(_ layer: Layer, _ set: Set<ObjectIdentifier>) -> Layer? {
        if set.contains(ObjectIdentifier(layer)) { return layer }
        for child in layer.children {
            if let found = firstShared(child, set) { return found }
        }
        return nil
    }

    /// Throws when a layer object occurs more than once in `model` (possible when a module
    /// was built with another container than `nn.Sequential`'s checks, e.g. `nn.Residual`).
    static func validate(_ model: Layer) throws {
        var seen = Set<ObjectIdentifier>()
        func visit(_ layer: Layer, path: String) throws {
            guard seen.insert(ObjectIdentifier(layer)).inserted else {
                throw BindingError("\(path) \(layer.summary) appears more than once in the model: a module can appear only once (each position needs its own)")
            }
            for (i, child) in layer.children.enumerated() {
                try visit(child, path: "\(path)[\(layer.childLabel(i))]")
            }
        }
        try visit(model, path: model.summary)
    }
}
