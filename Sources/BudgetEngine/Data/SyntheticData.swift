import Foundation

/// Seeded synthetic datasets for tests and demos.
///
/// `seed` draws the examples. What defines the classes (blob centres, image patterns) is drawn
/// from `layoutSeed` instead, so a train set and a test set drawn with different seeds come from
/// the same distribution. Labels cycle through the classes (`i % classes`), so every class has
/// the same number of examples (±1).
public enum SyntheticData {
    /// Gaussian blobs, as scikit-learn's `make_blobs`: one centre per class drawn uniformly from
    /// `[-10, 10]^dimensions`; an example is its class centre plus `N(0, spread²)` noise in
    /// every dimension. Sample shape `[dimensions]`.
    public static func gaussianBlobs(
        count: Int, classes: Int, dimensions: Int, spread: Float = 1, seed: UInt64, layoutSeed: UInt64 = 0
    ) throws -> Dataset {
        try check(count: count, classes: classes, generator: "gaussian_blobs")
        guard dimensions > 0 else { throw EngineError.invalidArgument("gaussian_blobs: dimensions must be positive, got \(dimensions)") }
        try checkSize(count: count, classes: classes, valuesPerExample: dimensions, generator: "gaussian_blobs")
        guard spread >= 0, spread.isFinite else { throw EngineError.invalidArgument("gaussian_blobs: spread must be >= 0, got \(spread)") }
        var layout = RandomGenerator(seed: layoutSeed, stream: 0x424C_4F42)
        let centres = (0..<(classes * dimensions)).map { _ in layout.uniform(-10, 10) }
        var rng = RandomGenerator(seed: seed, stream: 0x424C_4F42)
        let (inputs, labels) = noisyCopies(of: centres, count: count, classes: classes, noise: spread, rng: &rng)
        return try Dataset(inputs: inputs, labels: labels, sampleShape: [dimensions], classCount: classes, name: "gaussian_blobs")
    }

    /// Two interleaved spirals in the plane (2 classes). For an example of class `k` at
    /// `t ~ U(0, 1)`: radius `r = 0.2 + 0.8·t` (the arms start apart), angle `θ = 3π·t + k·π`, point `(r cos θ, r sin θ)` plus
    /// `N(0, noise²)` in each coordinate. Sample shape `[2]`.
    public static func twoSpirals(count: Int, noise: Float = 0.02, seed: UInt64) throws -> Dataset {
        try check(count: count, classes: 2, generator: "two_spirals")
        try checkSize(count: count, classes: 2, valuesPerExample: 2, generator: "two_spirals")
        guard noise >= 0, noise.isFinite else { throw EngineError.invalidArgument("two_spirals: noise must be >= 0, got \(noise)") }
        var rng = RandomGenerator(seed: seed, stream: 0x5350_4952)
        var inputs = [Float](repeating: 0, count: 2 * count)
        var labels = [Int32](repeating: 0, count: count)
        for i in 0..<count {
            let k = i % 2
            let t = rng.nextFloat()
            let angle = 3 * Float.pi * t + Float(k) * Float.pi
            let radius = 0.2 + 0.8 * t
            inputs[2 * i] = radius * cos(angle) + noise * rng.normal()
            inputs[2 * i + 1] = radius * sin(angle) + noise * rng.normal()
            labels[i] = Int32(k)
        }
        return try Dataset(inputs: inputs, labels: labels, sampleShape: [2], classCount: 2, name: "two_spirals")
    }

    /// Small noisy images with a learnable label: `classes` fixed patterns `P_k`, each value
    /// `N(0, 1)`, drawn from `layoutSeed`; an example of class `k` is `P_k + N(0, noise²)` per
    /// value. Sample shape `[channels, size, size]`.
    public static func patternImages(
        count: Int, classes: Int, channels: Int = 3, size: Int = 8, noise: Float = 1, seed: UInt64, layoutSeed: UInt64 = 0
    ) throws -> Dataset {
        try check(count: count, classes: classes, generator: "pattern_images")
        guard channels > 0, size > 0 else {
            throw EngineError.invalidArgument("pattern_images: channels and size must be positive, got \(channels) and \(size)")
        }
        guard noise >= 0, noise.isFinite else { throw EngineError.invalidArgument("pattern_images: noise must be >= 0, got \(noise)") }
        let (pixels, overflow) = size < 1 << 16 ? channels.multipliedReportingOverflow(by: size * size) : (0, true)
        guard !overflow else {
            throw EngineError.invalidArgument("pattern_images: \(channels)×\(size)×\(size) images are too large")
        }
        try checkSize(count: count, classes: classes, valuesPerExample: pixels, generator: "pattern_images")
        var layout = RandomGenerator(seed: layoutSeed, stream: 0x5041_5454)
        let patterns = (0..<(classes * pixels)).map { _ in layout.normal() }
        var rng = RandomGenerator(seed: seed, stream: 0x5041_5454)
        let (inputs, labels) = noisyCopies(of: patterns, count: count, classes: classes, noise: noise, rng: &rng)
        return try Dataset(
            inputs: inputs, labels: labels, sampleShape: [channels, size, size], classCount: classes, name: "pattern_images")
    }

    /// The engine keeps synthetic data in memory: refuse sizes that cannot fit (2³¹ values).
    /// `count` examples cycling through the classes: example `i` is the prototype of class
    /// `i mod classes` (one row of `prototypes`) plus `N(0, noise²)` in every value.
    private static func noisyCopies(
        of prototypes: [Float], count: Int, classes: Int, noise: Float, rng: inout RandomGenerator
    ) -> (inputs: [Float], labels: [Int32]) {
        let size = prototypes.count / classes
        var inputs = [Float](repeating: 0, count: count * size)
        var labels = [Int32](repeating: 0, count: count)
        for i in 0..<count {
            let c = i % classes
            labels[i] = Int32(c)
            for j in 0..<size { inputs[i * size + j] = prototypes[c * size + j] + noise * rng.normal() }
        }
        return (inputs, labels)
    }

    private static func checkSize(count: Int, classes: Int, valuesPerExample: Int, generator: String) throws {
        let limit = 1 << 31
        guard valuesPerExample > 0, count <= limit / valuesPerExample, classes <= limit / valuesPerExample else {
            throw EngineError.invalidArgument("\(generator): \(count) examples of \(valuesPerExample) values is too large")
        }
        // The examples and the class layout, twice (normalising makes a copy).
        try MemoryLimit.check(
            bytes: 2 * (count + classes) * valuesPerExample * MemoryLayout<Float>.size,
            for: "\(generator): \(count) examples of \(valuesPerExample) values")
    }

    private static func check(count: Int, classes: Int, generator: String) throws {
        guard count > 0 else { throw EngineError.invalidArgument("\(generator): count must be positive, got \(count)") }
        guard classes > 0 else { throw EngineError.invalidArgument("\(generator): classes must be positive, got \(classes)") }
    }
}
