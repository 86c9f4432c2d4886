import BudgetEngine
import Foundation

/// Four Gaussian blobs in 2-d, well separated: a model that learns anything gets them right.
public func gaussianBlobs(count: Int, seed: UInt64) throws -> Dataset {
    var rng = RandomGenerator(seed: seed)
    let centers: [(Float, Float)] = [(-2, -2), (2, -2), (-2, 2), (2, 2)]
    var inputs: [Float] = [], labels: [Int32] = []
    for i in 0..<count {
        let c = i % centers.count
        inputs += [centers[c].0 + 0.5 * rng.normal(), centers[c].1 + 0.5 * rng.normal()]
        labels.append(Int32(c))
    }
    return try Dataset(inputs: inputs, labels: labels, sampleShape: [2], name: "blobs")
}

/// A factory of `Linear → ReLU → … → Linear` with the given layer widths.
public func mlp(_ sizes: [Int]) -> (inout RandomGenerator) throws -> Layer {
    { rng in
        var layers: [Layer] = []
        for i in 0..<(sizes.count - 1) {
            layers.append(try Linear(inputs: sizes[i], outputs: sizes[i + 1], rng: &rng))
            if i < sizes.count - 2 { layers.append(ReLU()) }
        }
        return try Sequential(layers)
    }
}

/// A new empty folder under the system's temporary directory.
public func temporaryDirectory(_ name: String) throws -> String {
    let path = NSTemporaryDirectory() + "budgetrain-\(name)-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}
