import BudgetEngine
import Foundation

/// The loaders of the `data` namespace: files on disk and synthetic generators.
///
/// ```lua
/// local fm = data.fashion_mnist()                -- { train = ..., test = ... }, Debian's copy
/// local c10 = data.cifar10 { dir = "~/data/cifar10", normalize = true }
/// local iris = data.csv { path = "iris.csv", label = "species" }
/// local blobs = data.synthetic { kind = "blobs", n = 1000, test = 200, classes = 4, dimensions = 2 }
/// ```
/// `normalize = true` standardises every channel with the training set's mean and standard
/// deviation (applied to both sets).
enum DataLoaderBindings {
    static func register(in registry: BindingRegistry) throws {
        try registry.function("data.fashion_mnist") { args in
            let o = try args.options(1, fields: ["dir", "normalize"])
            try args.noMore(than: 1)
            let dir = try o.string("dir").map(expandTilde) ?? IDXDataset.fashionMNISTDirectory
            return try pair(IDXDataset.loadFashionMNIST(directory: dir), o)
        }
        try registry.function("data.mnist") { args in
            let o = try args.options(1, fields: ["dir", "normalize"])
            try args.noMore(than: 1)
            guard let dir = try o.string("dir") else { throw o.mismatch("dir", expected: "string (the folder of the four IDX files)") }
            return try pair(IDXDataset.load(directory: expandTilde(dir), name: "mnist"), o)
        }
        try registry.function("data.idx") { args in
            let o = try args.options(1, fields: ["dir", "name", "normalize"])
            try args.noMore(than: 1)
            guard let dir = try o.string("dir") else { throw o.mismatch("dir", expected: "string (the folder of the four IDX files)") }
            return try pair(IDXDataset.load(directory: expandTilde(dir), name: o.string("name")), o)
        }
        for (name, variant) in [("data.cifar10", CIFARDataset.Variant.cifar10), ("data.cifar100", .cifar100)] {
            try registry.function(name) { args in
                let o = try args.options(1, fields: ["dir", "normalize"])
                try args.noMore(than: 1)
                guard let dir = try o.string("dir") else { throw o.mismatch("dir", expected: "string (the folder of the binary batches)") }
                return try pair(CIFARDataset.load(variant, directory: expandTilde(dir)), o)
            }
        }
        try registry.function("data.csv") { args in
            let o = try args.options(1, fields: ["path", "label", "header", "delimiter", "name"])
            try args.noMore(than: 1)
            guard let path = try o.string("path") else { throw o.mismatch("path", expected: "string") }
            let label = try o.optional("label", "column name or number") { index -> CSVLabelColumn? in
                if let name = o.state.string(at: index) { return .name(name) }
                if let column = o.state.integer(at: index), column >= 1 { return .index(column - 1) }
                return nil
            } ?? .last
            var delimiter = UInt8(ascii: ",")
            if let d = try o.string("delimiter") {
                guard d.utf8.count == 1, let byte = d.utf8.first else { throw o.bad("delimiter", "one character expected, got \"\(d)\"") }
                delimiter = byte
            }
            let dataset = try CSVDataset.load(
                path: expandTilde(path), label: label, header: o.boolean("header"), delimiter: delimiter, name: o.string("name"))
            return .object(DatasetHandle(dataset))
        }
        try registry.function("data.synthetic") { args in
            let o = try args.options(1, fields: [
                "kind", "n", "test", "classes", "dimensions", "spread", "noise", "channels", "size", "seed", "layout_seed",
            ])
            try args.noMore(than: 1)
            let kind = try o.string("kind", default: "blobs")
            let n = try o.integer("n", default: 1000)
            let seed = try seedField(o, "seed", default: 0)
            let layout = try seedField(o, "layout_seed", default: 0)
            func draw(count: Int, seed: UInt64) throws -> Dataset {
                switch kind {
                case "blobs":
                    return try SyntheticData.gaussianBlobs(
                        count: count, classes: o.integer("classes", default: 4), dimensions: o.integer("dimensions", default: 2),
                        spread: Float(o.number("spread", default: 1)), seed: seed, layoutSeed: layout)
                case "spirals":
                    return try SyntheticData.twoSpirals(count: count, noise: Float(o.number("noise", default: 0.02)), seed: seed)
                case "images":
                    return try SyntheticData.patternImages(
                        count: count, classes: o.integer("classes", default: 10), channels: o.integer("channels", default: 3),
                        size: o.integer("size", default: 8), noise: Float(o.number("noise", default: 1)), seed: seed, layoutSeed: layout)
                default:
                    throw o.bad("kind", "\"blobs\", \"spirals\" or \"images\" expected, got \"\(kind)\"")
                }
            }
            var train = try draw(count: n, seed: seed)
            guard let testCount = try o.integer("test") else { return .object(DatasetHandle(train)) }
            // The test set: same classes (same layout), examples drawn from another seed.
            var test = try draw(count: testCount, seed: seed &+ 0x7E57)
            train.name += "/train"
            test.name += "/test"
            return .record([("train", .object(DatasetHandle(train))), ("test", .object(DatasetHandle(test)))])
        }
    }

    /// `{ train = ..., test = ... }`, standardised with the training statistics when asked.
    static func pair(_ sets: (train: Dataset, test: Dataset), _ o: LuaOptions) throws -> LuaValue {
        var (train, test) = sets
        if try o.boolean("normalize", default: false) {
            let statistics = train.channelStatistics()
            train = try train.normalized(with: statistics)
            test = try test.normalized(with: statistics)
        }
        return .record([("train", .object(DatasetHandle(train))), ("test", .object(DatasetHandle(test)))])
    }

    static func seedField(_ o: LuaOptions, _ key: String, default value: UInt64) throws -> UInt64 {
        guard let n = try o.integer(key) else { return value }
        guard n >= 0 else { throw o.bad(key, "a seed >= 0 expected, got \(n)") }
        return UInt64(n)
    }

    /// `~/x` as the home directory's `x`.
    static func expandTilde(_ path: String) -> String { (path as NSString).expandingTildeInPath }
}
