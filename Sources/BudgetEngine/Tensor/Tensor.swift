/// A contiguous block of Float32 values with a shape, owned by Swift.
///
/// Images are NCHW (batch, channels, height, width). A tensor is a reference type on purpose:
/// layers keep their output and gradient tensors from one step to the next and hand out
/// references, so the steady-state training step allocates nothing. `reshape` and
/// `resize(toShape:)` reuse the storage whenever it is large enough.
public final class Tensor {
    /// Dimensions, outermost first.
    public private(set) var shape: [Int]
    /// Number of values the shape holds (product of `shape`).
    public private(set) var count: Int
    /// Number of values the storage can hold; never less than `count`.
    public private(set) var capacity: Int
    /// The values, row-major. Valid for `count` elements.
    public private(set) var data: UnsafeMutablePointer<Float>
    /// The tensor whose values this one shows under another shape (see `view(of:as:)`), kept
    /// alive by this reference; nil when the tensor owns its storage.
    private var viewed: Tensor?

    /// A zero-filled tensor of the given shape.
    public init(shape: [Int]) {
        let n = Tensor.elementCount(shape)
        self.shape = shape
        self.count = n
        self.capacity = max(n, 1)
        self.data = .allocate(capacity: max(n, 1))
        data.initialize(repeating: 0, count: capacity)
    }

    /// A tensor holding `values` with the given shape (`values.count` must equal the shape's size).
    public convenience init(shape: [Int], values: [Float]) throws {
        self.init(shape: shape)
        guard values.count == count else {
            throw EngineError.invalidArgument("Tensor: \(values.count) values do not fill shape \(shape.shapeString)")
        }
        values.withUnsafeBufferPointer { buffer in
            if let base = buffer.baseAddress { data.update(from: base, count: count) }
        }
    }

    deinit { if viewed == nil { data.deallocate() } }

    static func elementCount(_ shape: [Int]) -> Int { shape.reduce(1, *) }

    /// The values as a Swift array (a copy; for tests and reporting, not the hot path).
    public var values: [Float] { Array(UnsafeBufferPointer(start: data, count: count)) }

    /// Size of the first dimension (the batch), or 1 for a scalar.
    public var batchSize: Int { shape.first ?? 1 }

    /// Values per batch element.
    public var elementsPerItem: Int { shape.isEmpty ? 1 : count / max(shape[0], 1) }

    /// Changes the shape, keeping the values and their count.
    public func reshape(_ newShape: [Int]) throws {
        guard Tensor.elementCount(newShape) == count else {
            throw EngineError.invalidArgument("cannot reshape \(shape.shapeString) to \(newShape.shapeString)")
        }
        if newShape != shape { shape = newShape }
    }

    /// Gives the tensor a new shape, growing the storage only when it is too small. The values
    /// are undefined afterwards unless the shape was unchanged. Allocates nothing when the shape
    /// is already `newShape`, which is the case in every steady-state step.
    /// A view gets storage of its own again: resizing never writes through to the viewed tensor.
    public func resize(toShape newShape: [Int]) {
        if newShape == shape, viewed == nil { return }
        let n = Tensor.elementCount(newShape)
        if n > capacity || viewed != nil {
            if viewed == nil { data.deallocate() }
            viewed = nil
            data = .allocate(capacity: max(n, 1))
            data.initialize(repeating: 0, count: max(n, 1))
            capacity = max(n, 1)
        }
        shape = newShape
        count = n
    }

    /// Same as `resize(toShape:)` but only replaces the batch dimension, without building a new
    /// shape array when the batch size is unchanged.
    public func resize(batch: Int, like other: [Int]) {
        if shape.count == other.count, shape.first == batch, viewed == nil {
            var same = true
            for i in 1..<other.count where shape[i] != other[i] { same = false; break }
            if same { return }
        }
        var s = other
        if !s.isEmpty { s[0] = batch }
        resize(toShape: s)
    }

    /// Makes this tensor show the values of `other` under `newShape` (of the same count), without
    /// copying: a layer that only reshapes (`Flatten`) hands on its input this way. The view
    /// sees `other`'s storage as it is now, so it is made anew on every pass; writing to a view
    /// writes to `other`. `resize` ends the view. Allocates nothing when the shape is unchanged.
    public func view(of other: Tensor, as newShape: [Int]) throws {
        guard Tensor.elementCount(newShape) == other.count else {
            throw EngineError.invalidArgument("cannot view \(other.shape.shapeString) as \(newShape.shapeString)")
        }
        if other === self { return try reshape(newShape) }
        if viewed == nil { data.deallocate() }
        viewed = other
        data = other.data
        capacity = max(other.count, 1)
        count = other.count
        if newShape != shape { shape = newShape }
    }

    public func fill(_ value: Float) { data.update(repeating: value, count: count) }
    public func zero() { fill(0) }

    /// Copies the values of `other` (same count) into this tensor.
    public func copy(from other: Tensor) {
        data.update(from: other.data, count: min(count, other.count))
    }

    /// Element at a flat index (bounds-unchecked in release builds; for tests and small loops).
    public subscript(i: Int) -> Float {
        get { data[i] }
        set { data[i] = newValue }
    }
}

extension Array where Element == Int {
    /// A shape as users read it: `[128, 1, 28, 28]`.
    public var shapeString: String { "[" + map(String.init).joined(separator: ", ") + "]" }
}
