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
    ///
    /// Records are read and converted one chunk at a time, never holding a whole decompressed
    /// file: the memory taken is that of the Float32 pixels, checked against the machine's as
    /// it grows, so a gzip bomb stops with an error rather than exhausting memory.
    public static func read(_ variant: Variant, paths: [String], name: String) throws -> Dataset {
        var labels: [Int32] = []
        var inputs: [Float] = []
        for path in paths {
            try readRecords(variant, path: path, labels: &labels, inputs: &inputs)
        }
        return try Dataset(inputs: inputs, labels: labels, sampleShape: imageShape, classCount: variant.classCount, name: name)
    }

    /// Records read per chunk (about 3 MB).
    static let recordsPerChunk = 1024

    /// The most records one batch file may hold: the official files hold 10,000 (50,000 for
    /// CIFAR-100's train.bin); beyond a hundred times that a file is not a CIFAR batch.
    static let maximumRecordsPerFile = 5_000_000

    /// Appends the records of the batch file at `path` to `labels` and `inputs`.
    static func readRecords(_ variant: Variant, path: String, labels: inout [Int32], inputs: inout [Float]) throws {
        let reader = try DataFileReader(path: path)
        let size = variant.recordSize
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: recordsPerChunk * size, alignment: 16)
        defer { chunk.deallocate() }
        var records = 0
        while true {
            let n = try reader.read(into: chunk)
            let whole = n / size
            guard records + whole <= maximumRecordsPerFile else {
                throw EngineError.dataFile(
                    path: path, message: "more than \(maximumRecordsPerFile) records of \(size) bytes; not a \(variant.name) batch (the official files hold 10000 or 50000)")
            }
            if whole > 0 {
                try reserve(whole, after: labels.count, path: path, variant: variant, labels: &labels, inputs: &inputs)
                for r in 0..<whole {
                    try append(UnsafeRawBufferPointer(rebasing: chunk[(r * size)..<((r + 1) * size)]), record: records + r,
                               variant: variant, path: path, labels: &labels, inputs: &inputs)
                }
                records += whole
            }
            if n < chunk.count {
                let total = records * size + n % size
                guard total > 0 else { throw EngineError.dataFile(path: path, message: "empty file") }
                guard n % size == 0 else {
                    throw EngineError.dataFile(
                        path: path,
                        message: "truncated or not a \(variant.name) batch: \(total) bytes is \(records) records of \(size) bytes and \(n % size) left over")
                }
                return
            }
        }
    }

    /// Makes room for `count` more records, after checking that the dataset stays within what
    /// a dataset may hold (Int32 indices) and that it fits in memory twice (`normalize = true`
    /// makes a standardised copy).
    private static func reserve(
        _ count: Int, after existing: Int, path: String, variant: Variant, labels: inout [Int32], inputs: inout [Float]
    ) throws {
        let records = existing + count
        guard records <= Int(Int32.max) else {
            throw EngineError.dataFile(path: path, message: "more than \(Int32.max) records; a dataset holds at most that many")
        }
        guard inputs.capacity < records * pixelsPerImage else { return }
        // Grow geometrically, as Array would, but only after checking that it fits.
        let capacity = max(records, 2 * existing)
        try MemoryLimit.check(
            bytes: 2 * capacity * (pixelsPerImage * MemoryLayout<Float>.size + MemoryLayout<Int32>.size),
            for: "\(path): \(capacity) \(variant.name) images as Float32")
        inputs.reserveCapacity(capacity * pixelsPerImage)
        labels.reserveCapacity(capacity)
    }

    /// Checks the labels of one record and appends it.
    private static func append(
        _ record: UnsafeRawBufferPointer, record r: Int, variant: Variant, path: String, labels: inout [Int32], inputs: inout [Float]
    ) throws {
        let label = Int(record[variant.labelBytes - 1])
        if variant == .cifar100, record[0] >= 20 {
            throw EngineError.dataFile(path: path, message: "record \(r): coarse label \(record[0]) is out of range 0 ..< 20")
        }
        guard label < variant.classCount else {
            throw EngineError.dataFile(path: path, message: "record \(r): label \(label) is out of range 0 ..< \(variant.classCount)")
        }
        labels.append(Int32(label))
        for i in variant.labelBytes..<variant.recordSize { inputs.append(Float(record[i]) / 255) }
    }
}
