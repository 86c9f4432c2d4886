/// Examples in memory: inputs as Float32 (each of `sampleShape`, e.g. `[1, 28, 28]`) and
/// integer class labels.
///
/// The storage is shared: a `Dataset` is a value holding the storage and the indices of the
/// examples it contains, so `subset` and `split` cost an index list, not a copy of the images.
public struct Dataset: Sendable {
    /// Shared, immutable example storage.
    public final class Storage: @unchecked Sendable {
        public let inputs: [Float]
        public let labels: [Int32]
        public let sampleShape: [Int]
        public let sampleSize: Int

        public init(inputs: [Float], labels: [Int32], sampleShape: [Int]) throws {
            guard sampleShape.allSatisfy({ $0 > 0 }), let size = TensorSize.product(sampleShape) else {
                throw EngineError.invalidArgument("dataset: sample shape \(sampleShape.shapeString) must be positive")
            }
            // A batch of one example is a tensor: no example may hold more than one can.
            guard size <= TensorSize.maximumElements else {
                throw EngineError.invalidArgument(
                    "dataset: sample shape \(sampleShape.shapeString) holds more than \(TensorSize.maximumElements) values")
            }
            guard inputs.count == labels.count * size else {
                throw EngineError.invalidArgument("dataset: \(inputs.count) input values do not make \(labels.count) samples of \(sampleShape.shapeString)")
            }
            self.inputs = inputs
            self.labels = labels
            self.sampleShape = sampleShape
            self.sampleSize = size
        }
    }

    public let storage: Storage
    /// Indices into the storage of the examples this dataset holds, in order.
    public let indices: [Int32]
    /// Number of classes the labels range over (`0 ..< classCount`).
    public let classCount: Int
    /// Where the data came from, for messages and records (e.g. `fashion-mnist/train`).
    public var name: String
    /// Augmentation applied when training batches are drawn (never at evaluation).
    public var augmentation: Augmentation = .none

    /// Names of the classes, `classNames[label]`, when the source had them (e.g. string labels
    /// of a CSV file); nil otherwise.
    public var classNames: [String]?

    public init(
        inputs: [Float], labels: [Int32], sampleShape: [Int], classCount: Int? = nil, classNames: [String]? = nil,
        name: String
    ) throws {
        let storage = try Storage(inputs: inputs, labels: labels, sampleShape: sampleShape)
        let maxLabel = labels.max().map { Int($0) } ?? 0
        if let bad = labels.first(where: { $0 < 0 }) {
            throw EngineError.invalidArgument("\(name): negative label \(bad)")
        }
        let classes = classCount ?? (maxLabel + 1)
        guard maxLabel < classes else {
            throw EngineError.invalidArgument("\(name): label \(maxLabel) is out of range for \(classes) classes")
        }
        if let classNames, classNames.count != classes {
            throw EngineError.invalidArgument("\(name): \(classNames.count) class names for \(classes) classes")
        }
        guard labels.count <= Int(Int32.max) else {
            throw EngineError.invalidArgument("\(name): \(labels.count) examples; at most \(Int32.max) are supported")
        }
        self.init(storage: storage, indices: Array(0..<Int32(labels.count)), classCount: classes, name: name)
        self.classNames = classNames
    }

    public init(storage: Storage, indices: [Int32], classCount: Int, name: String) {
        self.storage = storage
        self.indices = indices
        self.classCount = classCount
        self.name = name
    }

    public var count: Int { indices.count }
    public var sampleShape: [Int] { storage.sampleShape }

    /// The first `n` examples after a seeded shuffle.
    public func subset(count n: Int, seed: UInt64) throws -> Dataset {
        guard n > 0, n <= count else {
            throw EngineError.invalidArgument("\(name): subset of \(n) examples from \(count); expected 1 ... \(count)")
        }
        var picked = indices
        var rng = RandomGenerator(seed: seed, stream: 0x5355_4253)
        picked.withUnsafeMutableBufferPointer { rng.shuffle($0) }
        return derived(indices: Array(picked.prefix(n)), name: "\(name)[\(n)]")
    }

    /// A seeded random fraction (0 < fraction ≤ 1) of the examples.
    public func subset(fraction: Double, seed: UInt64) throws -> Dataset {
        guard fraction > 0, fraction <= 1 else {
            throw EngineError.invalidArgument("\(name): subset fraction must be in (0, 1], got \(fraction)")
        }
        return try subset(count: max(1, Int((fraction * Double(count)).rounded())), seed: seed)
    }

    /// Splits into two disjoint parts after a seeded shuffle: the first holds `fraction` of the
    /// examples.
    public func split(fraction: Double, seed: UInt64) throws -> (Dataset, Dataset) {
        guard fraction > 0, fraction < 1 else {
            throw EngineError.invalidArgument("\(name): split fraction must be in (0, 1), got \(fraction)")
        }
        guard count >= 2 else {
            throw EngineError.invalidArgument("\(name): cannot split \(count) example into two non-empty parts")
        }
        var picked = indices
        var rng = RandomGenerator(seed: seed, stream: 0x5350_4C54)
        picked.withUnsafeMutableBufferPointer { rng.shuffle($0) }
        let n = min(max(1, Int((fraction * Double(count)).rounded())), count - 1)
        return (derived(indices: Array(picked[..<n]), name: "\(name)[split 1]"),
                derived(indices: Array(picked[n...]), name: "\(name)[split 2]"))
    }

    /// A dataset over the same storage with other indices, keeping classes and augmentation.
    func derived(indices: [Int32], name: String) -> Dataset {
        var result = Dataset(storage: storage, indices: indices, classCount: classCount, name: name)
        result.augmentation = augmentation
        result.classNames = classNames
        return result
    }
}

/// Seeded data augmentation for images `[C, H, W]`, applied as training batches are drawn.
public struct Augmentation: Sendable, Equatable {
    /// Pad by this many zero pixels on each side, then crop back at a random offset (0: off).
    public var cropPadding: Int = 0
    /// Mirror left-right with probability 1/2.
    public var horizontalFlip = false

    public init(cropPadding: Int = 0, horizontalFlip: Bool = false) {
        self.cropPadding = cropPadding
        self.horizontalFlip = horizontalFlip
    }

    /// An augmentation for images of `sampleShape`, checked: cropping needs images `[C, H, W]`
    /// and a padding in `0 ... max(H, W)` (a larger one would only crop zeros).
    public init(cropPadding: Int, horizontalFlip: Bool, for sampleShape: [Int]) throws {
        if cropPadding != 0 {
            guard sampleShape.count == 3 else {
                throw EngineError.invalidArgument("crop: cropping needs images [C, H, W], this dataset holds \(sampleShape.shapeString)")
            }
            let side = max(sampleShape[1], sampleShape[2])
            guard cropPadding >= 0, cropPadding <= side else {
                throw EngineError.invalidArgument("crop: a padding in 0 ... \(side) expected (the image's side), got \(cropPadding)")
            }
        }
        self.init(cropPadding: cropPadding, horizontalFlip: horizontalFlip)
    }

    public static let none = Augmentation()
    public var isEnabled: Bool { cropPadding > 0 || horizontalFlip }
}
