/// Per-channel mean and standard deviation of a dataset's inputs.
///
/// A channel is the first dimension of the sample shape: the colour planes of `[C, H, W]`
/// images, the features of `[F]` rows (a scalar sample shape `[]` is one channel).
public struct ChannelStatistics: Sendable, Equatable {
    public var mean: [Float]
    public var std: [Float]

    public init(mean: [Float], std: [Float]) {
        self.mean = mean
        self.std = std
    }
}

extension Dataset {
    /// Mean and (population) standard deviation of every channel over this dataset's examples:
    /// `mean_c = Σ x / n`, `std_c = sqrt(Σ (x − mean_c)² / n)`, summed over all examples and all
    /// positions of channel `c`. Accumulates in Double, two passes (no cancellation).
    public func channelStatistics() -> ChannelStatistics {
        let channels = sampleShape.first ?? 1
        let plane = storage.sampleSize / channels
        var sums = [Double](repeating: 0, count: channels)
        var squares = [Double](repeating: 0, count: channels)
        storage.inputs.withUnsafeBufferPointer { all in
            guard let base = all.baseAddress else { return }
            for index in indices {
                let sample = base + Int(index) * storage.sampleSize
                for c in 0..<channels {
                    let values = sample + c * plane
                    var sum: Float = 0  // a plane is short; its Float sum is exact enough before joining the Double total
                    for j in 0..<plane { sum += values[j] }
                    sums[c] += Double(sum)
                }
            }
            let n = Double(count * plane)
            for c in 0..<channels { sums[c] /= n }
            for index in indices {
                let sample = base + Int(index) * storage.sampleSize
                for c in 0..<channels {
                    let values = sample + c * plane
                    let mean = Float(sums[c])
                    var sum: Float = 0
                    for j in 0..<plane {
                        let d = values[j] - mean
                        sum += d * d
                    }
                    squares[c] += Double(sum)
                }
            }
            for c in 0..<channels { squares[c] = (squares[c] / n).squareRoot() }
        }
        return ChannelStatistics(mean: sums.map { Float($0) }, std: squares.map { Float($0) })
    }

    /// A copy of this dataset's examples, in order, with every channel standardised:
    /// `x' = (x − mean_c) / std_c`. The result has its own storage; use the training set's
    /// statistics for the test set too.
    public func normalized(with statistics: ChannelStatistics) throws -> Dataset {
        let channels = sampleShape.first ?? 1
        guard statistics.mean.count == channels, statistics.std.count == channels else {
            throw EngineError.invalidArgument(
                "\(name): normalisation has \(statistics.mean.count) means and \(statistics.std.count) stds for \(channels) channels")
        }
        for c in 0..<channels {
            guard statistics.mean[c].isFinite, statistics.std[c].isFinite, statistics.std[c] > 0 else {
                throw EngineError.invalidArgument(
                    "\(name): channel \(c) has mean \(statistics.mean[c]) and std \(statistics.std[c]); std must be a finite number > 0 (a constant channel cannot be standardised)")
            }
        }
        let size = storage.sampleSize, plane = size / channels
        let scales = statistics.std.map { 1 / $0 }
        var labels = [Int32](repeating: 0, count: count)
        let inputs = [Float](unsafeUninitializedCapacity: count * size) { out, initialized in
            storage.inputs.withUnsafeBufferPointer { all in
                guard let src = all.baseAddress, let dst = out.baseAddress else { return }
                for (row, index) in indices.enumerated() {
                    labels[row] = storage.labels[Int(index)]
                    let from = src + Int(index) * size, to = dst + row * size
                    for c in 0..<channels {
                        let mean = statistics.mean[c], scale = scales[c]
                        for j in (c * plane)..<((c + 1) * plane) { to[j] = (from[j] - mean) * scale }
                    }
                }
            }
            initialized = count * size
        }
        var result = try Dataset(
            inputs: inputs, labels: labels, sampleShape: sampleShape, classCount: classCount, classNames: classNames,
            name: name)
        result.augmentation = augmentation
        return result
    }
}
