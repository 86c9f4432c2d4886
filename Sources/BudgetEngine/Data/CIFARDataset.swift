import Foundation

/// CIFAR-10 and CIFAR-100 from their binary batch files.
///
/// Each record is the label byte(s) followed by a 32×32 colour image stored as three planes
/// (1024 red, 1024 green, 1024 blue bytes), which is exactly `[3, 32, 32]`:
///
///     CIFAR-10:  label (0 ..< 10), 3072 pixel bytes       data_batch_1..5.bin, test_batch.bin
///     CIFAR-100: coarse label (0 ..< 20), fine label (0 ..< 100), 3072 pixel bytes
///                                                         train.bin, test.bin
///
/// CIFAR-100 datasets use the fine label (100 classes). Pixel values are divided by 255.
public enum CIFARDataset {
    public enum Variant: Sendable {
        case cifar10, cifar100

        /// Bytes before the pixels in each record.
        var labelBytes: Int { self == .cifar10 ? 1 : 2 }
        var recordSize: Int { labelBytes + pixelsPerImage }
        public var classCount: Int { self == .cifar10 ? 10 : 100 }
        var trainFiles: [String] { self == .cifar10 ? (1...5).map { "data_batch_\($0).bin" } : ["train.bin"] }
        var testFiles: [String] { self == .cifar10 ? ["test_batch.bin"] : ["test.bin"] }
        /// The folder the official archive extracts to.
        var archiveFolder: String { self == .cifar10 ? "cifar-10-batches-bin" : "cifar-100-binary" }
        var name: String { self == .cifar10 ? "cifar10" : "cifar100" }
    }

    public static let imageShape = [3, 32, 32]
    static let pixelsPerImage = 3 * 32 * 32

    /// Loads the train and test sets from `directory`, which holds the batch files or the
    /// folder the official archive extracts to (`cifar-10-batches-bin`, `cifar-100-binary`).
    public static func load(_ variant: Variant, directory: String) throws -> (train: Dataset, test: Dataset) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw EngineError.dataFile(path: directory, message: "no such directory (expected the \(variant.name) binary batches)")
        }
        var folder = directory
        let nested = (directory as NSString).appendingPathComponent(variant.archiveFolder)
        let firstFile = variant.testFiles[0]
        if !FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent(firstFile)),
           FileManager.default.fileExists(atPath: (nested as NSString).appendingPathComponent(firstFile)) {
            folder = nested
        }
        func paths(_ files: [String]) -> [String] { files.map { (folder as NSString).appendingPathComponent($0) } }
        let train = try read(variant, paths: paths(variant.trainFiles), name: "\(variant.name)/train")
        let test = try read(variant, paths: paths(variant.testFiles), name: "\(variant.name)/test")
        return (train, test)
    }

    /// One dataset from the records of the given batch files, in order.
    public static func read(_ variant: Variant, paths: [String], name: String) throws -> Dataset {
        let contents = try paths.map { path -> [UInt8] in
            let bytes = try DataFileReader(path: path).readAll()
            guard !bytes.isEmpty else { throw EngineError.dataFile(path: path, message: "empty file") }
            guard bytes.count % variant.recordSize == 0 else {
                let records = bytes.count / variant.recordSize, rest = bytes.count % variant.recordSize
                throw EngineError.dataFile(
                    path: path,
                    message: "truncated or not a \(variant.name) batch: \(bytes.count) bytes is \(records) records of \(variant.recordSize) bytes and \(rest) left over")
            }
            return bytes
        }
        let total = contents.reduce(0) { $0 + $1.count / variant.recordSize }
        var labels = [Int32](repeating: 0, count: total)
        let inputs = try [Float](unsafeUninitializedCapacity: total * pixelsPerImage) { out, initialized in
            var record = 0
            for (path, bytes) in zip(paths, contents) {
                try bytes.withUnsafeBufferPointer { src in
                    guard let base = src.baseAddress, let dstBase = out.baseAddress else { return }
                    for r in 0..<(bytes.count / variant.recordSize) {
                        let start = base + r * variant.recordSize
                        let label = Int(start[variant.labelBytes - 1])
                        if variant == .cifar100, start[0] >= 20 {
                            throw EngineError.dataFile(path: path, message: "record \(r): coarse label \(start[0]) is out of range 0 ..< 20")
                        }
                        guard label < variant.classCount else {
                            throw EngineError.dataFile(
                                path: path, message: "record \(r): label \(label) is out of range 0 ..< \(variant.classCount)")
                        }
                        labels[record] = Int32(label)
                        let pixels = start + variant.labelBytes
                        let dst = dstBase + record * pixelsPerImage
                        for i in 0..<pixelsPerImage { dst[i] = Float(pixels[i]) / 255 }
                        record += 1
                    }
                }
            }
            initialized = total * pixelsPerImage
        }
        return try Dataset(inputs: inputs, labels: labels, sampleShape: imageShape, classCount: variant.classCount, name: name)
    }
}
