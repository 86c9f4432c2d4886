/// Layers that hold other layers (`Sequential`, `Residual`).
public protocol ContainerLayer: Layer {
    /// How deep the container's subtree goes, and the containers it sits in.
    var nesting: ModelNesting { get }
}

/// How deep models nest, kept up to date as containers are filled, so that a model deeper
/// than `maximumModelDepth` is refused while it is built, not when some recursive walk over it
/// (printing, the parameter list, forward) overflows the stack.
///
/// Depth counts layers on the longest path from the root to a leaf: a plain layer is 1 level,
/// a container of plain layers 2. A container knows its own height and, weakly, every container
/// it was added to; so adding a layer anywhere (`inner:add(...)` after `inner` went into a
/// model) checks the height of every model above it, walking only the containers involved.
public final class ModelNesting {
    /// Levels from this container down to its deepest leaf, the container included.
    public private(set) var height = 1
    private var parents: [WeakContainer] = []

    public init() {}

    /// The height of `layer`'s subtree (1 for a plain layer).
    public static func height(of layer: Layer) -> Int { (layer as? ContainerLayer)?.nesting.height ?? 1 }

    /// Records that `container` now holds `children`, after checking that no model containing
    /// `container` would nest more than `maximumModelDepth` levels (or hold itself). Nothing
    /// changes when it throws.
    public static func adopt(_ children: [Layer], into container: ContainerLayer) throws {
        var above: [ObjectIdentifier: Int] = [:]
        let depthAbove = levelsAbove(container, memo: &above)
        if let cycle = children.first(where: { above[ObjectIdentifier($0)] != nil }) {
            throw EngineError.invalidArgument("\(container.summary): cannot hold \(cycle.summary), which contains it (a model cannot contain itself)")
        }
        let newHeight = max(container.nesting.height, 1 + (children.map(height(of:)).max() ?? 0))
        guard depthAbove + newHeight <= maximumModelDepth else {
            throw EngineError.invalidArgument(
                "\(container.summary): the model would nest \(depthAbove + newHeight) levels deep; models nest at most \(maximumModelDepth) (each container is a level)")
        }
        for case let child as ContainerLayer in children { child.nesting.parents.append(WeakContainer(container)) }
        raise(container, to: newHeight)
    }

    /// The longest chain of containers above `container` (0 for a root), memoised per
    /// container; the keys of `memo` afterwards are `container` and all its ancestors.
    private static func levelsAbove(_ container: ContainerLayer, memo: inout [ObjectIdentifier: Int]) -> Int {
        let id = ObjectIdentifier(container)
        if let known = memo[id] { return known }
        memo[id] = 0  // a cycle (which `adopt` refuses) would end here
        var levels = 0
        for parent in container.nesting.parents.compactMap(\.container) {
            levels = max(levels, 1 + levelsAbove(parent, memo: &memo))
        }
        memo[id] = levels
        return levels
    }

    /// Sets `container`'s height to at least `height` and passes the change up.
    private static func raise(_ container: ContainerLayer, to height: Int) {
        guard height > container.nesting.height else { return }
        container.nesting.height = height
        container.nesting.parents.removeAll { $0.container == nil }
        for parent in container.nesting.parents.compactMap(\.container) { raise(parent, to: height + 1) }
    }
}

/// A container a nesting record points back to without keeping it alive.
private struct WeakContainer {
    weak var layer: AnyObject?
    init(_ container: ContainerLayer) { layer = container }
    var container: ContainerLayer? { layer as? ContainerLayer }
}
