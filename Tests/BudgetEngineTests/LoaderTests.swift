import Foundation
import TestSupport
import Testing
@testable import BudgetEngine

// MARK: - Helpers: temporary files, gzip, IDX and CIFAR writers

/// A fresh temporary directory, removed when the value is released.
final class TemporaryDirectory {
    let path: String

    init() throws {
        path = (NSTemporaryDirectory() as NSString).appendingPathComponent("budgetrain-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes `bytes` to `name` inside the directory; returns the full path.
    @discardableResult
    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let file = (path as NSString).appendingPathComponent(name)
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        return file
    }
}

func bigEndian(_ values: [UInt32]) -> [UInt8] {
    values.flatMap { [UInt8($0 >> 24), UInt8(($0 >> 16) & 0xFF), UInt8(($0 >> 8) & 0xFF), UInt8($0 & 0xFF)] }
}

/// The test pixel pattern: byte of pixel `i` of the file.
func pixelByte(_ i: Int) -> UInt8 { UInt8((i * 37 + 11) % 256) }

func idxImages(count: Int, rows: Int, columns: Int, magic: UInt32 = 0x0803) -> [UInt8] {
    bigEndian([magic, UInt32(count), UInt32(rows), UInt32(columns)]) + (0..<(count * rows * columns)).map(pixelByte)
}

func idxLabels(_ labels: [UInt8]) -> [UInt8] { bigEndian([0x0801, UInt32(labels.count)]) + labels }

/// The message of the error `body` throws, or nil when it throws none.
func errorMessage(_ body: () throws -> Void) -> String? {
    do {
        try body()
        return nil
    } catch {
        return "\(error)"
    }
}

// MARK: - IDX

@Suite struct IDXTests {
    @Test(arguments: [false, true])
    func readsImagesAndLabels(compressed: Bool) throws {
        let dir = try TemporaryDirectory()
        let suffix = compressed ? ".gz" : ""
        let raw = idxImages(count: 5, rows: 4, columns: 3)
        let imagePath = try dir.write("images" + suffix, compressed ? try gzip(raw) : raw)
        let labelBytes: [UInt8] = [3, 0, 9, 1, 1]
        let labelPath = try dir.write("labels" + suffix, compressed ? try gzip(idxLabels(labelBytes)) : idxLabels(labelBytes))

        let images = try IDXFile.readImages(path: imagePath)
        #expect(images.count == 5 && images.rows == 4 && images.columns == 3)
        #expect(images.values.count == 60)
        for i in 0..<60 { #expect(images.values[i] == Float(pixelByte(i)) / 255) }
        #expect(try IDXFile.readLabels(path: labelPath) == labelBytes.map(Int32.init))

        let dataset = try IDXDataset.load(imagesPath: imagePath, labelsPath: labelPath, name: "tiny")
        #expect(dataset.sampleShape == [1, 4, 3])
        #expect(dataset.count == 5)
        #expect(dataset.classCount == 10)
    }

    @Test func pixelExtremesMapToZeroAndOne() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("images", bigEndian([0x0803, 1, 1, 3]) + [0, 255, 51])
        #expect(try IDXFile.readImages(path: path).values == [0, 1, 0.2])
    }

    @Test func readsLargeGzipAcrossChunks() throws {
        // Larger than the reader's 1 MiB input and 256 KiB conversion chunks.
        let dir = try TemporaryDirectory()
        let count = 3000, rows = 28, columns = 28
        let path = try dir.write("big.gz", try gzip(idxImages(count: count, rows: rows, columns: columns)))
        let images = try IDXFile.readImages(path: path)
        #expect(images.count == count)
        var mismatches = 0
        for i in stride(from: 0, to: count * rows * columns, by: 997) where images.values[i] != Float(pixelByte(i)) / 255 {
            mismatches += 1
        }
        #expect(mismatches == 0)
    }

    @Test func readsConcatenatedGzipMembers() throws {
        let dir = try TemporaryDirectory()
        let raw = idxImages(count: 4, rows: 2, columns: 2)
        let path = try dir.write("images.gz", try gzip(Array(raw[..<20])) + (try gzip(Array(raw[20...]))))
        #expect(try IDXFile.readImages(path: path).values == (0..<16).map { Float(pixelByte($0)) / 255 })
    }

    @Test func missingFileNamesIt() throws {
        let dir = try TemporaryDirectory()
        let path = (dir.path as NSString).appendingPathComponent("nothing-here-idx3-ubyte")
        let message = try #require(errorMessage { _ = try IDXFile.readImages(path: path) })
        #expect(message.contains(path))
        #expect(message.contains("no such file"))
    }

    @Test(arguments: [false, true])
    func truncatedPayloadSaysHowShort(compressed: Bool) throws {
        let dir = try TemporaryDirectory()
        let raw = Array(idxImages(count: 5, rows: 4, columns: 3).dropLast(7))  // 16 + 60 - 7 = 69 bytes
        let path = try dir.write("short-images", compressed ? try gzip(raw) : raw)
        let message = try #require(errorMessage { _ = try IDXFile.readImages(path: path) })
        #expect(message.contains(path))
        #expect(message.contains("truncated"))
        #expect(message.contains("expected 76 bytes"))
        #expect(message.contains("got 69"))
    }

    @Test func truncatedLabelsSayHowShort() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("labels", bigEndian([0x0801, 10]) + [1, 2, 3])
        let message = try #require(errorMessage { _ = try IDXFile.readLabels(path: path) })
        #expect(message.contains(path) && message.contains("expected 18 bytes") && message.contains("got 11"))
    }

    @Test func truncatedHeaderIsAnError() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("header-only", bigEndian([0x0803, 10]))
        let message = try #require(errorMessage { _ = try IDXFile.readImages(path: path) })
        #expect(message.contains(path) && message.contains("header") && message.contains("got 8"))
    }

    @Test func absurdHeaderSizesAreErrorsNotAllocations() throws {
        let dir = try TemporaryDirectory()
        let overflowing = try dir.write("overflow", bigEndian([0x0803, 0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF]))
        #expect(try #require(errorMessage { _ = try IDXFile.readImages(path: overflowing) }).contains("too large"))
        // 4 billion images declared in a small gzip file: checked before any allocation.
        let huge = try dir.write("huge.gz", try gzip(bigEndian([0x0803, 0xFFFF_FFFF, 28, 28]) + [1, 2, 3]))
        let message = try #require(errorMessage { _ = try IDXFile.readImages(path: huge) })
        #expect(message.contains(huge) && message.contains("more than a gzip file of") && message.contains("can hold"), "\(message)")
    }

    @Test func aGzipTrailerAgreeingModulo2To32DoesNotConfirmTheHeader() throws {
        // 2^16 images of 256×256 is 2^32 pixels: header + payload is 16 (mod 2^32), as long
        // as the 16 bytes of the header alone, so the gzip size field agrees with it.
        let dir = try TemporaryDirectory()
        let header = bigEndian([0x0803, 1 << 16, 256, 256])
        let path = try dir.write("bomb.gz", try gzip(header))
        let message = try #require(errorMessage { _ = try IDXFile.readImages(path: path) })
        #expect(message.contains(path) && message.contains("4294967312 bytes"), "\(message)")
        // Several members: the size field says nothing, the length is counted.
        let members = try dir.write("members.gz", try gzip(Array(header[..<8])) + (try gzip(Array(header[8...]))))
        let counted = try #require(errorMessage { _ = try IDXFile.readImages(path: members) })
        #expect(counted.contains("can hold"), "\(counted)")
    }

    @Test func readingWholeFilesStopsAtTheLimitNotAtTheEndOfABomb() throws {
        let dir = try TemporaryDirectory()
        // 8 MB of zeros compress to a few KB.
        let bomb = try dir.write("bomb.gz", try gzip([UInt8](repeating: 0, count: 8 << 20)))
        let message = try #require(errorMessage { _ = try DataFileReader(path: bomb).readAll(limit: 1 << 20, what: "a test allows") })
        #expect(message.contains(bomb) && message.contains("decompresses to more than 1048576 bytes, more than a test allows"), "\(message)")
        #expect(try DataFileReader(path: bomb).sizeBound == (try DataFileReader(path: bomb).fileSize) * 1032)
        #expect(try DataFileReader(path: bomb).readAll(limit: 8 << 20, what: "").count == 8 << 20)
    }

    @Test func extraBytesAreAnError() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("long-labels", idxLabels([1, 2]) + [7, 7, 7])
        let message = try #require(errorMessage { _ = try IDXFile.readLabels(path: path) })
        #expect(message.contains(path) && message.contains("too long"))
    }

    @Test func truncatedGzipStreamIsAnError() throws {
        let dir = try TemporaryDirectory()
        let compressed = try gzip(idxImages(count: 50, rows: 28, columns: 28))
        let path = try dir.write("cut.gz", Array(compressed.prefix(compressed.count / 2)))
        let message = try #require(errorMessage { _ = try IDXFile.readImages(path: path) })
        #expect(message.contains(path))
        #expect(message.contains("truncated"))
    }

    @Test func corruptGzipIsAnError() throws {
        let dir = try TemporaryDirectory()
        var compressed = try gzip(idxImages(count: 50, rows: 28, columns: 28))
        for i in (compressed.count / 2)..<(compressed.count / 2 + 40) { compressed[i] ^= 0x5A }
        let path = try dir.write("corrupt.gz", compressed)
        let message = try #require(errorMessage { _ = try IDXFile.readImages(path: path) })
        #expect(message.contains(path))
        #expect(message.contains("gzip"))
    }

    @Test func wrongMagicIsAnError() throws {
        let dir = try TemporaryDirectory()
        // A label file where images are expected, and images where labels are expected.
        let labels = try dir.write("labels-as-images", idxLabels([1, 2, 3]))
        let message = try #require(errorMessage { _ = try IDXFile.readImages(path: labels) })
        #expect(message.contains(labels) && message.contains("magic") && message.contains("0x00000801") && message.contains("0x00000803"))

        let images = try dir.write("images-as-labels.gz", try gzip(idxImages(count: 1, rows: 2, columns: 2)))
        let other = try #require(errorMessage { _ = try IDXFile.readLabels(path: images) })
        #expect(other.contains(images) && other.contains("magic"))

        let text = try dir.write("notes.txt", Array("hello, world".utf8))
        #expect(try #require(errorMessage { _ = try IDXFile.readLabels(path: text) }).contains("magic"))
    }

    @Test func countMismatchNamesBothFiles() throws {
        let dir = try TemporaryDirectory()
        let imagePath = try dir.write("images", idxImages(count: 5, rows: 2, columns: 2))
        let labelPath = try dir.write("labels", idxLabels([0, 1, 2, 3]))
        let message = try #require(errorMessage {
            _ = try IDXDataset.load(imagesPath: imagePath, labelsPath: labelPath, name: "tiny")
        })
        #expect(message.contains(imagePath) && message.contains(labelPath))
        #expect(message.contains("4 labels") && message.contains("5 images"))
    }

    /// Writes the four standard files, mixing gzip and raw.
    func writeStandardFiles(in dir: TemporaryDirectory) throws {
        try dir.write("train-images-idx3-ubyte.gz", try gzip(idxImages(count: 6, rows: 3, columns: 3)))
        try dir.write("train-labels-idx1-ubyte", idxLabels([0, 1, 2, 0, 1, 2]))
        try dir.write("t10k-images-idx3-ubyte", idxImages(count: 2, rows: 3, columns: 3))
        try dir.write("t10k-labels-idx1-ubyte.gz", try gzip(idxLabels([3, 1])))
    }

    @Test func loadsStandardDirectory() throws {
        let dir = try TemporaryDirectory()
        try writeStandardFiles(in: dir)
        let (train, test) = try IDXDataset.load(directory: dir.path, name: "tiny-mnist")
        #expect(train.count == 6 && test.count == 2)
        #expect(train.name == "tiny-mnist/train" && test.name == "tiny-mnist/test")
        // One class count for both: the largest label of either set plus one.
        #expect(train.classCount == 4 && test.classCount == 4)
        #expect(train.sampleShape == [1, 3, 3])
        #expect(test.storage.labels == [3, 1])
    }

    @Test func missingDirectoryAndFilesAreNamed() throws {
        let dir = try TemporaryDirectory()
        let absent = (dir.path as NSString).appendingPathComponent("absent")
        let message = try #require(errorMessage { _ = try IDXDataset.load(directory: absent) })
        #expect(message.contains(absent) && message.contains("no such directory"))

        let fashion = try #require(errorMessage { _ = try IDXDataset.loadFashionMNIST(directory: absent) })
        #expect(fashion.contains(IDXDataset.fashionMNISTPackage))

        try writeStandardFiles(in: dir)
        try FileManager.default.removeItem(atPath: (dir.path as NSString).appendingPathComponent("t10k-labels-idx1-ubyte.gz"))
        let missing = try #require(errorMessage { _ = try IDXDataset.load(directory: dir.path) })
        #expect(missing.contains("t10k-labels-idx1-ubyte") && missing.contains("missing"))
    }

    @Test func realFashionMNIST() throws {
        let directory = IDXDataset.fashionMNISTDirectory
        guard FileManager.default.fileExists(atPath: directory) else {
            print("skipped: Fashion-MNIST is not installed at \(directory) (apt-get install \(IDXDataset.fashionMNISTPackage))")
            return
        }
        let (train, test) = try IDXDataset.loadFashionMNIST()
        #expect(train.count == 60_000 && test.count == 10_000)
        #expect(train.sampleShape == [1, 28, 28] && train.classCount == 10)
        var perClass = [Int](repeating: 0, count: 10)
        for label in train.storage.labels { perClass[Int(label)] += 1 }
        #expect(perClass == [Int](repeating: 6000, count: 10))
        // The first training items are an ankle boot, two T-shirts, a dress and a T-shirt.
        #expect(Array(train.storage.labels.prefix(5)) == [9, 0, 0, 3, 0])
        #expect(Array(test.storage.labels.prefix(5)) == [9, 2, 1, 1, 6])
        // Pixels span [0, 1], and every value is a byte divided by 255.
        var low: Float = 1, high: Float = 0, offGrid = 0
        train.storage.inputs.withUnsafeBufferPointer { pixels in
            for i in 0..<pixels.count {
                low = min(low, pixels[i])
                high = max(high, pixels[i])
            }
            for i in stride(from: 0, to: pixels.count, by: 101) where (pixels[i] * 255).rounded() / 255 != pixels[i] {
                offGrid += 1
            }
        }
        #expect(low == 0 && high == 1)
        #expect(offGrid == 0)
    }
}

// MARK: - CIFAR

/// One CIFAR record: labels then 3072 pixels (pixel `i` of record `r` is `(r * 5 + i) % 256`).
func cifarRecord(_ labels: [UInt8], record r: Int) -> [UInt8] {
    labels + (0..<3072).map { UInt8((r * 5 + $0) % 256) }
}

@Suite struct CIFARTests {
    @Test func readsCIFAR10Batches() throws {
        let dir = try TemporaryDirectory()
        var record = 0
        for batch in 1...5 {
            var bytes: [UInt8] = []
            for _ in 0..<2 {
                bytes += cifarRecord([UInt8(record % 10)], record: record)
                record += 1
            }
            try dir.write("data_batch_\(batch).bin", bytes)
        }
        try dir.write("test_batch.bin", cifarRecord([7], record: 100))
        let (train, test) = try CIFARDataset.load(.cifar10, directory: dir.path)
        #expect(train.count == 10 && test.count == 1)
        #expect(train.sampleShape == [3, 32, 32] && train.classCount == 10)
        #expect(train.storage.labels == (0..<10).map { Int32($0) })
        #expect(test.storage.labels == [7])
        // Record 3, channel 1 (green), row 2, column 5: byte 1024 + 2·32 + 5 of its pixels.
        let offset = 3 * 3072 + 1024 + 2 * 32 + 5
        #expect(train.storage.inputs[offset] == Float((3 * 5 + 1024 + 69) % 256) / 255)
        #expect(test.storage.inputs[0] == Float(500 % 256) / 255)
    }

    @Test func readsCIFAR100FineLabelsFromArchiveFolder() throws {
        let dir = try TemporaryDirectory()
        let folder = (dir.path as NSString).appendingPathComponent("cifar-100-binary")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let data = cifarRecord([19, 99], record: 0) + cifarRecord([3, 42], record: 1)
        try Data(data).write(to: URL(fileURLWithPath: (folder as NSString).appendingPathComponent("train.bin")))
        try Data(cifarRecord([0, 5], record: 2)).write(to: URL(fileURLWithPath: (folder as NSString).appendingPathComponent("test.bin")))
        let (train, test) = try CIFARDataset.load(.cifar100, directory: dir.path)
        #expect(train.classCount == 100)
        #expect(train.storage.labels == [99, 42] && test.storage.labels == [5])
        #expect(train.storage.inputs[3072] == Float(5) / 255)  // record 1, first pixel
    }

    @Test func truncatedFileIsNamed() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("test_batch.bin", Array((cifarRecord([1], record: 0) + cifarRecord([2], record: 1)).dropLast(10)))
        let message = try #require(errorMessage { _ = try CIFARDataset.read(.cifar10, paths: [path], name: "c") })
        #expect(message.contains(path) && message.contains("truncated"))
        #expect(message.contains("6136 bytes") && message.contains("3063 left over"))
    }

    @Test func labelOutOfRangeIsNamed() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("bad.bin", cifarRecord([1], record: 0) + cifarRecord([10], record: 1))
        let message = try #require(errorMessage { _ = try CIFARDataset.read(.cifar10, paths: [path], name: "c") })
        #expect(message.contains(path) && message.contains("record 1") && message.contains("label 10"))

        let fine = try dir.write("bad100.bin", cifarRecord([1, 100], record: 0))
        let other = try #require(errorMessage { _ = try CIFARDataset.read(.cifar100, paths: [fine], name: "c") })
        #expect(other.contains("label 100"))
    }

    @Test func missingDirectoryAndBatchFile() throws {
        let dir = try TemporaryDirectory()
        let absent = (dir.path as NSString).appendingPathComponent("nope")
        #expect(try #require(errorMessage { _ = try CIFARDataset.load(.cifar10, directory: absent) }).contains(absent))
        try dir.write("test_batch.bin", cifarRecord([1], record: 0))
        let message = try #require(errorMessage { _ = try CIFARDataset.load(.cifar10, directory: dir.path) })
        #expect(message.contains("data_batch_1.bin") && message.contains("no such file"))
    }
}

// MARK: - CSV

@Suite struct CSVTests {
    @Test func headerWithNamedStringLabel() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("iris.csv", Array("""
            sepal, species ,petal
            1.5,virginica,2
            -3e-1, setosa ,4.25

            7,"versicolor",8
            0.5,setosa,1\r

            """.utf8))
        let data = try CSVDataset.load(path: path, label: .name("species"))
        #expect(data.sampleShape == [2])
        #expect(data.storage.inputs == [1.5, 2, -0.3, 4.25, 7, 8, 0.5, 1])
        #expect(data.classNames == ["setosa", "versicolor", "virginica"])
        #expect(data.storage.labels == [2, 0, 1, 0])
        #expect(data.classCount == 3)
        #expect(data.name == "iris.csv")
    }

    @Test func noHeaderIntegerLabelsLastColumn() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("plain.csv", Array("0.1,0.2,3\n0.3,0.4,0\n0.5,0.6,1\n".utf8))
        let data = try CSVDataset.load(path: path)
        #expect(data.count == 3)
        #expect(data.storage.inputs == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
        #expect(data.storage.labels == [3, 0, 1])
        #expect(data.classCount == 4 && data.classNames == nil)
    }

    @Test func labelByIndexAndDetectedHeader() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("first.csv", Array("label,x,y\n1,2,3\n0,4,5\n".utf8))
        let data = try CSVDataset.load(path: path, label: .index(0))
        #expect(data.storage.labels == [1, 0] && data.storage.inputs == [2, 3, 4, 5])
    }

    @Test func numericNonIntegerLabelsSortNumerically() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("signs.csv", Array("1,10\n2,-1\n3,2\n4,10\n".utf8))
        let data = try CSVDataset.load(path: path)
        #expect(data.classNames == ["-1", "2", "10"])
        #expect(data.storage.labels == [2, 0, 1, 2])
    }

    @Test func quotedLabelWithComma() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("q.csv", Array("x,name\n1,\"b, \"\"two\"\"\"\n2,a\n".utf8))
        let data = try CSVDataset.load(path: path)
        #expect(data.classNames == ["a", "b, \"two\""])
        #expect(data.storage.labels == [1, 0])
    }

    @Test func badValueNamesLineAndColumn() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("bad.csv", Array("a,b,label\n1,2,x\n3,oops,y\n".utf8))
        let message = try #require(errorMessage { _ = try CSVDataset.load(path: path) })
        #expect(message.contains(path) && message.contains("line 3") && message.contains("'b'") && message.contains("'oops'"))

        let noHeader = try dir.write("bad2.csv", Array("1,2,0\n3,,1\n".utf8))
        let other = try #require(errorMessage { _ = try CSVDataset.load(path: noHeader, header: false) })
        #expect(other.contains("line 2") && other.contains("index 1") && other.contains("empty"))
    }

    @Test func raggedRowNamesLine() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("ragged.csv", Array("a,b,label\n1,2,0\n\n3,1\n".utf8))
        let message = try #require(errorMessage { _ = try CSVDataset.load(path: path) })
        #expect(message.contains(path) && message.contains("line 4") && message.contains("2 fields, expected 3"))
    }

    @Test func unknownLabelColumnAndEmptyFile() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("h.csv", Array("a,b\n1,0\n".utf8))
        #expect(try #require(errorMessage { _ = try CSVDataset.load(path: path, label: .name("class")) }).contains("no column named 'class'"))
        #expect(try #require(errorMessage { _ = try CSVDataset.load(path: path, label: .index(5)) }).contains("index 5"))
        let empty = try dir.write("empty.csv", [])
        #expect(try #require(errorMessage { _ = try CSVDataset.load(path: empty) }).contains(empty))
    }
}
