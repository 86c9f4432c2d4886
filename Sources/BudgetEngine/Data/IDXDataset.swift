import Dispatch
import Foundation

/// MNIST-style datasets (MNIST, Fashion-MNIST, KMNIST, ...) from the four standard IDX files
/// in one directory, raw or gzip:
///
///     train-images-idx3-ubyte(.gz)   train-labels-idx1-ubyte(.gz)
///     t10k-images-idx3-ubyte(.gz)    t10k-labels-idx1-ubyte(.gz)
///
/// Images become Float32 in [0, 1] with sample shape `[1, rows, columns]` (`[1, 28, 28]`).
public enum IDXDataset {
    /// Where Debian's `dataset-fashion-mnist` package installs Fashion-MNIST.
    public static let fashionMNISTDirectory = "/usr/share/datasets/fashion-mnist"
    /// The Debian package that provides Fashion-MNIST (`apt-get install dataset-fashion-mnist`).
    public static let fashionMNISTPackage = "dataset-fashion-mnist"

    /// The standard file names without the `.gz` suffix.
    public static let trainImagesFile = "train-images-idx3-ubyte"
    public static let trainLabelsFile = "train-labels-idx1-ubyte"
    public static let testImagesFile = "t10k-images-idx3-ubyte"
    public static let testLabelsFile = "t10k-labels-idx1-ubyte"

    /// Loads the train and test sets from `directory`. Datasets are named `name/train` and
    /// `name/test` (name defaults to the directory's last component). Both share one class count:
    /// one more than the largest label in either set.
    ///
    /// The four files are read concurrently (decompression dominates the time).
    public static func load(directory: String, name: String? = nil) throws -> (train: Dataset, test: Dataset) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            throw EngineError.dataFile(path: directory, message: "no such directory")
        }
        guard isDirectory.boolValue else {
            throw EngineError.dataFile(path: directory, message: "not a directory (expected one holding the IDX files)")
        }
        let datasetName = name ?? URL(fileURLWithPath: directory).lastPathComponent
        let paths = try [trainImagesFile, trainLabelsFile, testImagesFile, testLabelsFile].map {
            try locate($0, in: directory)
        }

        // Read the four files concurrently; each task writes only its own slot.
        let images = ResultSlots<IDXFile.Images>(count: 2)
        let labels = ResultSlots<[Int32]>(count: 2)
        DispatchQueue.concurrentPerform(iterations: 4) { task in
            let part = task / 2
            if task % 2 == 0 {
                images.set(part, Result { try IDXFile.readImages(path: paths[2 * part]) })
            } else {
                labels.set(part, Result { try IDXFile.readLabels(path: paths[2 * part + 1]) })
            }
        }
        let trainImages = try images.get(0), testImages = try images.get(1)
        let trainLabels = try labels.get(0), testLabels = try labels.get(1)

        guard trainImages.rows == testImages.rows, trainImages.columns == testImages.columns else {
            throw EngineError.dataFile(
                path: paths[2],
                message: "test images are \(testImages.rows)×\(testImages.columns), train images (\(paths[0])) are \(trainImages.rows)×\(trainImages.columns)")
        }
        let classCount = Int(max(trainLabels.max() ?? 0, testLabels.max() ?? 0)) + 1
        let train = try makeDataset(
            trainImages, trainLabels, imagesPath: paths[0], labelsPath: paths[1], classCount: classCount, name: "\(datasetName)/train")
        let test = try makeDataset(
            testImages, testLabels, imagesPath: paths[2], labelsPath: paths[3], classCount: classCount, name: "\(datasetName)/test")
        return (train, test)
    }

    /// Loads Fashion-MNIST from Debian's directory (or `directory`); a missing directory gives
    /// an error that says which package installs it.
    public static func loadFashionMNIST(directory: String = fashionMNISTDirectory) throws -> (train: Dataset, test: Dataset) {
        guard FileManager.default.fileExists(atPath: directory) else {
            // Only Debian's own directory is the package's to provide; another is the user's.
            let hint = directory == fashionMNISTDirectory
                ? "Fashion-MNIST is not installed here; install Debian's package with `apt-get install \(fashionMNISTPackage)`"
                : "no such directory (for Debian's copy, `apt-get install \(fashionMNISTPackage)` and leave out dir: it lives in \(fashionMNISTDirectory))"
            throw EngineError.dataFile(path: directory, message: hint)
        }
        return try load(directory: directory, name: "fashion-mnist")
    }

    /// One dataset from an image file and a label file.
    public static func load(imagesPath: String, labelsPath: String, classCount: Int? = nil, name: String) throws -> Dataset {
        let images = try IDXFile.readImages(path: imagesPath)
        let labels = try IDXFile.readLabels(path: labelsPath)
        let classes = classCount ?? (Int(labels.max() ?? 0) + 1)
        return try makeDataset(images, labels, imagesPath: imagesPath, labelsPath: labelsPath, classCount: classes, name: name)
    }

    /// `directory/base.gz` if it exists, else `directory/base`.
    static func locate(_ base: String, in directory: String) throws -> String {
        let plain = (directory as NSString).appendingPathComponent(base)
        for candidate in [plain + ".gz", plain] where FileManager.default.fileExists(atPath: candidate) {
            return candidate
        }
        throw EngineError.dataFile(path: plain, message: "missing: neither \(base).gz nor \(base) is in \(directory)")
    }

    private static func makeDataset(
        _ images: IDXFile.Images, _ labels: [Int32], imagesPath: String, labelsPath: String, classCount: Int, name: String
    ) throws -> Dataset {
        guard images.count == labels.count else {
            throw EngineError.dataFile(
                path: labelsPath, message: "\(labels.count) labels for the \(images.count) images of \(imagesPath)")
        }
        return try Dataset(
            inputs: images.values, labels: labels, sampleShape: [1, images.rows, images.columns],
            classCount: classCount, name: name)
    }
}

/// Results written by concurrent tasks, one slot each.
private final class ResultSlots<Value>: @unchecked Sendable {
    private var slots: [Result<Value, Error>?]
    private let lock = NSLock()

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ result: Result<Value, Error>) {
        lock.lock()
        slots[index] = result
        lock.unlock()
    }

    func get(_ index: Int) throws -> Value {
        guard let result = slots[index] else { throw EngineError.invalidArgument("internal: slot \(index) was not filled") }
        return try result.get()
    }
}
