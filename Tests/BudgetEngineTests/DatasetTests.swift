import Foundation
import Testing
@testable import BudgetEngine
import TestSupport

/// `count` examples of shape `[1]` whose single value is their own index: what a batch holds
/// tells which examples it drew.
func indexedDataset(count: Int, classes: Int = 3) throws -> Dataset {
    try Dataset(
        inputs: (0..<count).map(Float.init), labels: (0..<count).map { Int32($0 % classes) }, sampleShape: [1],
        name: "indexed")
}

/// The example values of every batch of one epoch.
func drawEpoch(_ iterator: BatchIterator, epoch: Int) -> [[Float]] {
    iterator.start(epoch: epoch)
    var batches: [[Float]] = []
    while iterator.next() > 0 { batches.append(iterator.inputs.values) }
    return batches
}

@Suite struct SubsetAndSplitTests {
    @Test func subsetSizesAndDeterminism() throws {
        let data = try indexedDataset(count: 100)
        let a = try data.subset(count: 30, seed: 1), b = try data.subset(count: 30, seed: 1)
        let c = try data.subset(count: 30, seed: 2)
        #expect(a.count == 30 && a.indices == b.indices && a.indices != c.indices)
        #expect(Set(a.indices).count == 30)
        #expect(try data.subset(fraction: 0.25, seed: 1).count == 25)
        #expect(a.storage === data.storage)  // an index list, not a copy
        #expect(throws: EngineError.self) { try data.subset(count: 0, seed: 1) }
        #expect(throws: EngineError.self) { try data.subset(count: 101, seed: 1) }
        #expect(throws: EngineError.self) { try data.subset(fraction: 1.5, seed: 1) }
    }

    @Test func splitIsDisjointCompleteAndDeterministic() throws {
        var data = try indexedDataset(count: 101)
        data.augmentation = Augmentation(cropPadding: 2)
        data.classNames = ["a", "b", "c"]
        let (first, second) = try data.split(fraction: 0.8, seed: 9)
        #expect(first.count == 81 && second.count == 20)
        #expect(Set(first.indices).isDisjoint(with: Set(second.indices)))
        #expect(Set(first.indices).union(second.indices) == Set(data.indices))
        let (again, _) = try data.split(fraction: 0.8, seed: 9)
        #expect(again.indices == first.indices)
        #expect(try data.split(fraction: 0.8, seed: 10).0.indices != first.indices)
        // The parts keep what describes the data.
        #expect(second.augmentation == data.augmentation && second.classNames == data.classNames && second.classCount == 3)
        #expect(throws: EngineError.self) { try data.split(fraction: 1, seed: 1) }
        #expect(throws: EngineError.self) { try indexedDataset(count: 1).split(fraction: 0.5, seed: 1) }
    }

    @Test func subsetOfSubsetStaysInside() throws {
        let data = try indexedDataset(count: 50)
        let outer = try data.subset(count: 20, seed: 3)
        let inner = try outer.subset(count: 5, seed: 4)
        #expect(Set(inner.indices).isSubset(of: Set(outer.indices)))
    }
}

@Suite struct BatchIteratorTests {
    @Test func everyExampleOncePerEpochWithPartialLastBatch() throws {
        let data = try indexedDataset(count: 10)
        let iterator = try BatchIterator(dataset: data, batchSize: 4, shuffle: true, seed: 5, augment: false)
        #expect(iterator.batchesPerEpoch == 3)
        for epoch in 0..<3 {
            let batches = drawEpoch(iterator, epoch: epoch)
            #expect(batches.map(\.count) == [4, 4, 2])
            #expect(batches.flatMap { $0 }.sorted() == (0..<10).map(Float.init))
        }
        #expect(iterator.next() == 0)  // stays at the end
    }

    @Test func labelsFollowTheirExamples() throws {
        let data = try indexedDataset(count: 17, classes: 4)
        let iterator = try BatchIterator(dataset: data, batchSize: 5, shuffle: true, seed: 1, augment: false)
        iterator.start(epoch: 2)
        while iterator.next() > 0 {
            for i in 0..<iterator.currentCount {
                #expect(Int(iterator.labels[i]) == Int(iterator.inputs[i]) % 4)
            }
        }
    }

    @Test func orderDependsOnEpochAndSeedOnly() throws {
        let data = try indexedDataset(count: 64)
        let a = try BatchIterator(dataset: data, batchSize: 16, shuffle: true, seed: 11, augment: false)
        let b = try BatchIterator(dataset: data, batchSize: 16, shuffle: true, seed: 11, augment: false)
        let c = try BatchIterator(dataset: data, batchSize: 16, shuffle: true, seed: 12, augment: false)
        let epoch0 = drawEpoch(a, epoch: 0), epoch1 = drawEpoch(a, epoch: 1)
        #expect(epoch0 != epoch1)
        // Epoch 1 of a fresh iterator, without replaying epoch 0, is the same.
        #expect(drawEpoch(b, epoch: 1) == epoch1)
        #expect(drawEpoch(b, epoch: 0) == epoch0)
        #expect(drawEpoch(c, epoch: 0) != epoch0)
    }

    @Test func seekLandsOnTheSameBatch() throws {
        let data = try indexedDataset(count: 30)
        let iterator = try BatchIterator(dataset: data, batchSize: 7, shuffle: true, seed: 2, augment: false)
        let batches = drawEpoch(iterator, epoch: 3)
        iterator.seek(epoch: 3, batch: 2)
        iterator.next()
        #expect(iterator.inputs.values == batches[2])
    }

    @Test func withoutShuffleTheOrderIsTheDatasets() throws {
        let data = try indexedDataset(count: 40).subset(count: 9, seed: 1)
        let iterator = try BatchIterator(dataset: data, batchSize: 4, shuffle: false, seed: 0, augment: false)
        #expect(drawEpoch(iterator, epoch: 0).flatMap { $0 } == data.indices.map(Float.init))
    }

    @Test func rejectsBadArguments() throws {
        let data = try indexedDataset(count: 4)
        #expect(throws: EngineError.self) { try BatchIterator(dataset: data, batchSize: 0, shuffle: true, seed: 0, augment: false) }
    }
}

@Suite struct AugmentationTests {
    /// One image `[channels, h, w]` with distinct values `1, 2, 3, ...`.
    func singleImage(channels: Int, height: Int, width: Int, augmentation: Augmentation) throws -> Dataset {
        var data = try Dataset(
            inputs: (0..<(channels * height * width)).map { Float($0 + 1) }, labels: [0],
            sampleShape: [channels, height, width], name: "image")
        data.augmentation = augmentation
        return data
    }

    /// Every augmented draw of the single image over `epochs` epochs.
    func draws(_ data: Dataset, seed: UInt64, epochs: Int) throws -> [[Float]] {
        let iterator = try BatchIterator(dataset: data, batchSize: 1, shuffle: true, seed: seed, augment: true)
        return (0..<epochs).flatMap { drawEpoch(iterator, epoch: $0) }
    }

    @Test func flipMirrorsRowsAboutHalfTheTime() throws {
        let data = try singleImage(channels: 2, height: 2, width: 3, augmentation: Augmentation(horizontalFlip: true))
        let original: [Float] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
        let mirrored: [Float] = [3, 2, 1, 6, 5, 4, 9, 8, 7, 12, 11, 10]
        let outputs = try draws(data, seed: 1, epochs: 200)
        #expect(outputs.allSatisfy { $0 == original || $0 == mirrored })
        let flips = outputs.filter { $0 == mirrored }.count
        #expect(flips > 60 && flips < 140)
        #expect(try draws(data, seed: 1, epochs: 200) == outputs)
        #expect(try draws(data, seed: 2, epochs: 200) != outputs)
    }

    @Test func cropShiftsWithZeroPadding() throws {
        let h = 3, w = 4
        let data = try singleImage(channels: 1, height: h, width: w, augmentation: Augmentation(cropPadding: 1))
        let source = data.storage.inputs
        /// The image moved so that output (y, x) shows source (y + dy, x + dx), zero outside.
        func shifted(dy: Int, dx: Int) -> [Float] {
            var out = [Float](repeating: 0, count: h * w)
            for y in 0..<h {
                for x in 0..<w where (0..<h).contains(y + dy) && (0..<w).contains(x + dx) {
                    out[y * w + x] = source[(y + dy) * w + x + dx]
                }
            }
            return out
        }
        var shifts: [[Float]: (Int, Int)] = [:]
        for dy in -1...1 { for dx in -1...1 { shifts[shifted(dy: dy, dx: dx)] = (dy, dx) } }
        let outputs = try draws(data, seed: 3, epochs: 300)
        #expect(outputs.allSatisfy { shifts[$0] != nil })
        // All nine offsets occur, the unshifted one among them.
        #expect(Set(outputs).count == 9)
        #expect(outputs.contains(source))
        #expect(try draws(data, seed: 3, epochs: 300) == outputs)
    }

    @Test func evaluationDrawsAreNotAugmented() throws {
        let data = try singleImage(channels: 1, height: 4, width: 4, augmentation: Augmentation(cropPadding: 2, horizontalFlip: true))
        let iterator = try BatchIterator(dataset: data, batchSize: 1, shuffle: false, seed: 1, augment: false)
        for epoch in 0..<20 { #expect(drawEpoch(iterator, epoch: epoch) == [data.storage.inputs]) }
    }
}

@Suite struct NormalizationTests {
    /// Two channels of 2×2 pixels, three examples.
    func twoChannelData() throws -> Dataset {
        let inputs: [Float] = [
            1, 2, 3, 4, 10, 10, 20, 20,
            5, 6, 7, 8, 30, 30, 40, 40,
            0, 0, 1, 1, -5, 5, -5, 5,
        ]
        return try Dataset(inputs: inputs, labels: [0, 1, 0], sampleShape: [2, 2, 2], name: "two-channel")
    }

    /// Mean and population standard deviation of channel `c` over the listed examples, naively.
    func naiveStatistics(_ inputs: [Float], examples: [Int], channel c: Int) -> (Double, Double) {
        let values = examples.flatMap { e in (0..<4).map { Double(inputs[e * 8 + c * 4 + $0]) } }
        let mean = values.reduce(0, +) / Double(values.count)
        let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)
        return (mean, variance.squareRoot())
    }

    @Test func statisticsPerChannel() throws {
        let data = try twoChannelData()
        let stats = data.channelStatistics()
        for c in 0..<2 {
            let (mean, std) = naiveStatistics(data.storage.inputs, examples: [0, 1, 2], channel: c)
            #expect(abs(Double(stats.mean[c]) - mean) < 1e-5 && abs(Double(stats.std[c]) - std) < 1e-5)
        }
        // Over a subset only its examples count.
        let part = Dataset(storage: data.storage, indices: [2, 0], classCount: 2, name: "part")
        let partStats = part.channelStatistics()
        let (mean1, std1) = naiveStatistics(data.storage.inputs, examples: [0, 2], channel: 1)
        #expect(abs(Double(partStats.mean[1]) - mean1) < 1e-5 && abs(Double(partStats.std[1]) - std1) < 1e-5)
    }

    @Test func normalisedDataHasZeroMeanUnitStd() throws {
        let data = try twoChannelData()
        let normalized = try data.normalized(with: data.channelStatistics())
        let stats = normalized.channelStatistics()
        for c in 0..<2 {
            #expect(abs(stats.mean[c]) < 1e-5)
            #expect(abs(stats.std[c] - 1) < 1e-5)
        }
        #expect(normalized.storage !== data.storage)
        #expect(normalized.storage.labels == data.storage.labels)
    }

    @Test func testSetUsesGivenStatistics() throws {
        let data = try twoChannelData()
        var part = Dataset(storage: data.storage, indices: [2, 1], classCount: 2, name: "test")
        part.augmentation = Augmentation(horizontalFlip: true)
        let given = ChannelStatistics(mean: [2, 10], std: [4, 0.5])
        let normalized = try part.normalized(with: given)
        #expect(normalized.count == 2 && normalized.indices == [0, 1])
        #expect(normalized.storage.labels == [0, 1])
        #expect(normalized.augmentation == part.augmentation)
        for (row, example) in [2, 1].enumerated() {
            for j in 0..<8 {
                let c = j / 4
                let expected = (Double(data.storage.inputs[example * 8 + j]) - Double(given.mean[c])) / Double(given.std[c])
                #expect(abs(Double(normalized.storage.inputs[row * 8 + j]) - expected) < 1e-5)
            }
        }
    }

    @Test func rejectsBadStatistics() throws {
        let data = try twoChannelData()
        #expect(throws: EngineError.self) { try data.normalized(with: ChannelStatistics(mean: [0], std: [1])) }
        let message = try #require(errorMessage { _ = try data.normalized(with: ChannelStatistics(mean: [0, 0], std: [1, 0])) })
        #expect(message.contains("channel 1"))
    }
}

@Suite struct SyntheticDataTests {
    @Test func deterministicPerSeed() throws {
        let a = try SyntheticData.gaussianBlobs(count: 50, classes: 3, dimensions: 4, seed: 1)
        let b = try SyntheticData.gaussianBlobs(count: 50, classes: 3, dimensions: 4, seed: 1)
        let c = try SyntheticData.gaussianBlobs(count: 50, classes: 3, dimensions: 4, seed: 2)
        #expect(a.storage.inputs == b.storage.inputs && a.storage.inputs != c.storage.inputs)
        #expect(a.sampleShape == [4] && a.classCount == 3)

        let s1 = try SyntheticData.twoSpirals(count: 40, seed: 5), s2 = try SyntheticData.twoSpirals(count: 40, seed: 5)
        #expect(s1.storage.inputs == s2.storage.inputs && s1.sampleShape == [2] && s1.classCount == 2)
        #expect(try SyntheticData.twoSpirals(count: 40, seed: 6).storage.inputs != s1.storage.inputs)

        let p1 = try SyntheticData.patternImages(count: 10, classes: 4, channels: 3, size: 5, seed: 1)
        let p2 = try SyntheticData.patternImages(count: 10, classes: 4, channels: 3, size: 5, seed: 1)
        #expect(p1.storage.inputs == p2.storage.inputs && p1.sampleShape == [3, 5, 5])
    }

    @Test func classesAreBalanced() throws {
        let data = try SyntheticData.patternImages(count: 103, classes: 5, seed: 1)
        var counts = [Int](repeating: 0, count: 5)
        for label in data.storage.labels { counts[Int(label)] += 1 }
        #expect(counts.max()! - counts.min()! <= 1 && counts.reduce(0, +) == 103)
    }

    @Test func blobsHaveTheirSpreadAroundSharedCentres() throws {
        let classes = 3, dims = 2, spread: Float = 0.5
        let train = try SyntheticData.gaussianBlobs(count: 3000, classes: classes, dimensions: dims, spread: spread, seed: 1)
        let test = try SyntheticData.gaussianBlobs(count: 3000, classes: classes, dimensions: dims, spread: spread, seed: 2)
        func classMeans(_ data: Dataset) -> [[Double]] {
            var sums = [[Double]](repeating: [Double](repeating: 0, count: dims), count: classes)
            for i in 0..<data.count {
                for d in 0..<dims { sums[Int(data.storage.labels[i])][d] += Double(data.storage.inputs[i * dims + d]) }
            }
            return sums.map { $0.map { $0 / Double(data.count / classes) } }
        }
        let trainMeans = classMeans(train), testMeans = classMeans(test)
        for c in 0..<classes {
            for d in 0..<dims {
                #expect(abs(trainMeans[c][d] - testMeans[c][d]) < 0.1)  // same centres, different draws
                #expect(abs(trainMeans[c][d]) <= 10.1)
            }
        }
        // Spread: mean squared distance to the class mean is dims · spread².
        var squared = 0.0
        for i in 0..<train.count {
            let c = Int(train.storage.labels[i])
            for d in 0..<dims {
                let diff = Double(train.storage.inputs[i * dims + d]) - trainMeans[c][d]
                squared += diff * diff
            }
        }
        #expect(abs(squared / Double(train.count) - Double(dims) * Double(spread * spread)) < 0.05)
    }

    @Test func patternImagesAreLearnableByNearestMean() throws {
        let classes = 4
        let train = try SyntheticData.patternImages(count: 400, classes: classes, channels: 1, size: 6, noise: 1, seed: 1)
        let test = try SyntheticData.patternImages(count: 200, classes: classes, channels: 1, size: 6, noise: 1, seed: 2)
        let size = 36
        var means = [[Float]](repeating: [Float](repeating: 0, count: size), count: classes)
        for i in 0..<train.count {
            for j in 0..<size { means[Int(train.storage.labels[i])][j] += train.storage.inputs[i * size + j] / 100 }
        }
        var correct = 0
        for i in 0..<test.count {
            let distances = means.map { m in (0..<size).reduce(Float(0)) { $0 + pow(test.storage.inputs[i * size + $1] - m[$1], 2) } }
            if distances.firstIndex(of: distances.min()!) == Int(test.storage.labels[i]) { correct += 1 }
        }
        #expect(correct >= 180)
    }

    @Test func spiralArmsAreApart() throws {
        let data = try SyntheticData.twoSpirals(count: 200, noise: 0, seed: 3)
        for i in 0..<data.count {
            let x = data.storage.inputs[2 * i], y = data.storage.inputs[2 * i + 1]
            let r = (x * x + y * y).squareRoot()
            #expect(r >= 0.2 - 1e-5 && r <= 1 + 1e-5)
        }
    }

    @Test func rejectsBadSizes() throws {
        #expect(throws: EngineError.self) { try SyntheticData.gaussianBlobs(count: 0, classes: 2, dimensions: 2, seed: 1) }
        #expect(throws: EngineError.self) { try SyntheticData.gaussianBlobs(count: 10, classes: 2, dimensions: 0, seed: 1) }
        #expect(throws: EngineError.self) { try SyntheticData.patternImages(count: 1 << 40, classes: 2, seed: 1) }
        #expect(throws: EngineError.self) { try SyntheticData.twoSpirals(count: 10, noise: -1, seed: 1) }
    }
}
