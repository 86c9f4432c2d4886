/// Draws minibatches from a dataset into buffers it owns, so drawing allocates nothing after
/// the first batch.
///
/// Epoch `e` visits the examples in an order shuffled by `(seed, e)`: the order of any epoch
/// is known without replaying the ones before it, which makes resuming a run exact. The last
/// batch of an epoch is smaller when the batch size does not divide the dataset (drop-last off).
public final class BatchIterator {
    public let dataset: Dataset
    public let batchSize: Int
    public let shuffle: Bool
    public let seed: UInt64
    /// Augmentation used for this iterator (the dataset's own when training, none when evaluating).
    public let augmentation: Augmentation

    /// The current batch's inputs `[n, sampleShape...]` and labels.
    public let inputs: Tensor
    private let labelStorage: UnsafeMutablePointer<Int32>
    /// Size of the current batch.
    public private(set) var currentCount = 0

    private var order: [Int32]
    private var epoch = -1
    private var position = 0
    private let batchShape: [Int]

    /// The largest batch size: no dataset holds more examples (`Dataset` indexes them with
    /// Int32).
    public static let maximumBatchSize = Int(Int32.max)

    /// A batch larger than the dataset draws the whole dataset (buffers are sized for the
    /// batches that can occur, never for `batchSize` alone); one larger than any dataset can
    /// be is an error.
    public init(dataset: Dataset, batchSize: Int, shuffle: Bool, seed: UInt64, augment: Bool) throws {
        guard batchSize > 0 else { throw EngineError.invalidArgument("batch_size must be positive, got \(batchSize)") }
        guard batchSize <= Self.maximumBatchSize else {
            throw EngineError.invalidArgument("batch_size \(batchSize) is larger than any dataset can be (at most \(Self.maximumBatchSize) examples)")
        }
        guard dataset.count > 0 else { throw EngineError.invalidArgument("\(dataset.name): dataset is empty") }
        self.dataset = dataset
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.seed = seed
        self.augmentation = augment ? dataset.augmentation : .none
        let rows = min(batchSize, dataset.count)
        batchShape = [rows] + dataset.sampleShape
        inputs = try Tensor(checkedShape: batchShape, of: "a batch of \(rows) examples of \(dataset.sampleShape.shapeString) (batch_size \(batchSize))")
        labelStorage = .allocate(capacity: rows)
        labelStorage.initialize(repeating: 0, count: rows)
        order = dataset.indices
    }

    deinit { labelStorage.deallocate() }

    /// Batches in one epoch.
    public var batchesPerEpoch: Int { dataset.count / batchSize + (dataset.count % batchSize == 0 ? 0 : 1) }

    /// Positions the iterator at the start of `epoch` (re-shuffling for that epoch).
    public func start(epoch e: Int) {
        epoch = e
        position = 0
        order.withUnsafeMutableBufferPointer { buffer in
            for i in 0..<buffer.count { buffer[i] = dataset.indices[i] }
            if shuffle {
                var shuffler = RandomGenerator(seed: seed, stream: BatchIterator.shuffleStream | UInt64(truncatingIfNeeded: e))
                shuffler.shuffle(buffer)
            }
        }
    }

    /// Positions the iterator at the given batch of the given epoch.
    public func seek(epoch e: Int, batch: Int) {
        if e != epoch { start(epoch: e) }
        let (start, overflow) = batch.multipliedReportingOverflow(by: batchSize)
        position = overflow ? order.count : min(max(start, 0), order.count)
    }

    /// Random streams of the shuffles and of the augmentation draws, kept in separate ranges so
    /// that no epoch's shuffle shares a stream with some batch's augmentation.
    static let shuffleStream: UInt64 = 0x5348_5546 << 32
    static let augmentationStream: UInt64 = 0x4147 << 48

    /// Fills `inputs` and `labels` with the next batch of the current epoch; returns its size,
    /// or 0 at the end of the epoch. Before any `start(epoch:)` the order is the dataset's own.
    @discardableResult
    public func next() -> Int {
        let n = min(batchSize, order.count - position)
        guard n > 0 else { return 0 }
        // One augmentation generator per (epoch, batch): a resumed run draws the same crops.
        let batchIndex = position / batchSize
        let stream = BatchIterator.augmentationStream ^ (UInt64(max(epoch, 0)) << 24) ^ UInt64(batchIndex)
        var rng = RandomGenerator(seed: seed, stream: stream)
        inputs.resizeChecked(batch: n, like: batchShape)
        currentCount = n
        let size = dataset.storage.sampleSize
        dataset.storage.inputs.withUnsafeBufferPointer { all in
            guard let src = all.baseAddress else { return }
            for i in 0..<n {
                let index = Int(order[position + i])
                labelStorage[i] = dataset.storage.labels[index]
                let dst = inputs.data + i * size
                if augmentation.isEnabled {
                    augmentation.apply(from: src + index * size, to: dst, shape: dataset.sampleShape, rng: &rng)
                } else {
                    dst.update(from: src + index * size, count: size)
                }
            }
        }
        position += n
        return n
    }

    /// The labels of the current batch as a read-only buffer.
    public var labels: UnsafeBufferPointer<Int32> { UnsafeBufferPointer(start: labelStorage, count: currentCount) }
}

extension Augmentation {
    /// Writes an augmented copy of one image `[C, H, W]` from `src` to `dst`.
    func apply(from src: UnsafePointer<Float>, to dst: UnsafeMutablePointer<Float>, shape: [Int], rng: inout RandomGenerator) {
        guard shape.count == 3 else {
            dst.update(from: src, count: shape.reduce(1, *))
            return
        }
        let c = shape[0], h = shape[1], w = shape[2]
        // `cropPadding` is at most the image's side (see `Augmentation.init(cropPadding:...)`).
        let dy = cropPadding > 0 ? rng.nextInt(below: 2 * cropPadding + 1) - cropPadding : 0
        let dx = cropPadding > 0 ? rng.nextInt(below: 2 * cropPadding + 1) - cropPadding : 0
        let flip = horizontalFlip && rng.next() & 1 == 1
        for ch in 0..<c {
            let s = src + ch * h * w, d = dst + ch * h * w
            for y in 0..<h {
                let sy = y + dy
                for x in 0..<w {
                    let ox = flip ? w - 1 - x : x
                    let sx = ox + dx
                    d[y * w + x] = (sy >= 0 && sy < h && sx >= 0 && sx < w) ? s[sy * w + sx] : 0
                }
            }
        }
    }
}
