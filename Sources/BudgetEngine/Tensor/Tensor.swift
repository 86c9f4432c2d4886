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

    /// A zero-filled tensor of a shape the engine itself chose (an empty buffer, a copy of an
    /// existing tensor's shape). A shape that comes from a user goes through
    /// `init(checkedShape:of:)` instead.
    public init(shape: [Int]) {
        let n = shape.reduce(1, *)
        self.shape = shape
        self.count = n
        self.capacity = max(n, 1)
        self.data = .allocate(capacity: max(n, 1))
        data.initialize(repeating: 0, count: capacity)
        MemoryLimit.account(capacity * MemoryLayout<Float>.size)
    }

    /// A zero-filled tensor of a shape that comes from a user (a layer's sizes, a batch size),
    /// checked first (see `TensorSize`): a shape that overflows, exceeds the bound of a tensor
    /// or does not fit in memory is an error naming `what`.
    public convenience init(checkedShape shape: [Int], of what: @autoclosure () -> String) throws {
        _ = try TensorSize.elementCount(shape, of: what())
        self.init(shape: shape)
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

    deinit { if viewed == nil { releaseStorage() } }

    /// The number of values `shape` holds, or nil when it is negative or overflows.
    static func elementCount(_ shape: [Int]) -> Int? { TensorSize.product(shape) }

    /// Gives back the storage this tensor owns.
    private func releaseStorage() {
        data.deallocate()
        MemoryLimit.account(-capacity * MemoryLayout<Float>.size)
    }

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
    ///
    /// A new shape is checked as in `init(checkedShape:of:)` (layers size their buffers from
    /// the shapes of their inputs); `what` names the buffer in the error.
    public func resize(toShape newShape: [Int], for what: @autoclosure () -> String = "a buffer") throws {
        if newShape == shape, viewed == nil { return }
        let n = try TensorSize.elementCount(newShape, of: what(), copies: 0)
        if n > capacity || viewed != nil {
            let growth = max(n, 1) - (viewed == nil ? capacity : 0)
            try MemoryLimit.check(bytes: max(growth, 0) * MemoryLayout<Float>.size, for: what())
        }
        store(newShape, count: n)
    }

    /// Same as `resize(toShape:)` but only replaces the batch dimension, without building a new
    /// shape array when the batch size is unchanged.
    public func resize(batch: Int, like other: [Int], for what: @autoclosure () -> String = "a buffer") throws {
        if sameShape(batch: batch, like: other) { return }
        var s = other
        if !s.isEmpty { s[0] = batch }
        try resize(toShape: s, for: what())
    }

    /// `resize(batch:like:)` for a shape whose size was checked when the storage was made (a
    /// batch iterator's smaller last batch): cannot fail.
    func resizeChecked(batch: Int, like other: [Int]) {
        if sameShape(batch: batch, like: other) { return }
        var s = other
        if !s.isEmpty { s[0] = batch }
        store(s, count: s.reduce(1, *))
    }

    private func sameShape(batch: Int, like other: [Int]) -> Bool {
        guard shape.count == other.count, shape.first == batch, viewed == nil else { return false }
        for i in 1..<other.count where shape[i] != other[i] { return false }
        return true
    }

    /// Sets the shape and count, with storage of its own for `n` values.
    private func store(_ newShape: [Int], count n: Int) {
        if n > capacity || viewed != nil {
            if viewed == nil { releaseStorage() }
            viewed = nil
            data = .allocate(capacity: max(n, 1))
            data.initialize(repeating: 0, count: max(n, 1))
            capacity = max(n, 1)
            MemoryLimit.account(capacity * MemoryLayout<Float>.size)
        }
        shape = newShape
        count = n
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
        if viewed == nil { releaseStorage() }
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
