import BudgetEngine
import CLua

/// The `data` namespace: datasets. A loader (see `DataLoaderBindings`) returns
/// `{ train = Dataset, test = Dataset }` (or one dataset); datasets answer `#ds`, `ds.classes`,
/// `ds.shape`, `ds:subset(...)`, `ds:split(...)`, `ds:augment{...}` and `ds:normalize(...)`.
///
/// ```lua
/// local toy = data.from_table { inputs = { {0, 0}, {0, 1}, {1, 0}, {1, 1} }, labels = { 0, 1, 1, 0 } }
/// local small = toy:subset(0.5, 1)          -- half of it, shuffled with seed 1
/// local a, b = toy:split(0.75, 1)
/// ```
enum DataBindings {
    static func register(in registry: BindingRegistry) throws {
        try registry.function("data.from_table") { args in
            let o = try args.options(1, fields: ["inputs", "labels", "shape", "classes", "name"])
            try args.noMore(than: 1)
            return .object(DatasetHandle(try datasetFromTable(o)))
        }
    }

    static func registerTypes(in registry: BindingRegistry) throws {
        try registry.type(DatasetHandle.self) { t in
            t.description { d in
                "Dataset \(d.dataset.name): \(d.dataset.count) examples of \(d.dataset.sampleShape.shapeString), \(d.dataset.classCount) classes"
            }
            t.length { $0.dataset.count }
            t.property("classes") { .integer($0.dataset.classCount) }
            t.property("shape") { .array($0.dataset.sampleShape.map { .integer($0) }) }
            t.property("name") { .string($0.dataset.name) }
            t.property("count") { .integer($0.dataset.count) }
            t.property("class_names") { d in d.dataset.classNames.map { .array($0.map { .string($0) }) } ?? .null }
            // ds:normalize([reference]): every channel standardised with the mean and standard
            // deviation of `reference` (default: ds itself; pass the training set when
            // normalising a test set).
            t.method("normalize") { handle, args in
                let reference = args.isNil(1) ? handle.dataset : try args.object(1, as: DatasetHandle.self).dataset
                try args.noMore(than: 1)
                guard reference.sampleShape.first == handle.dataset.sampleShape.first else {
                    throw args.bad(1, "a dataset with the same channels expected: \(reference.sampleShape.shapeString) vs \(handle.dataset.sampleShape.shapeString)")
                }
                return .object(DatasetHandle(try handle.dataset.normalized(with: reference.channelStatistics())))
            }
            // ds:subset(n_or_fraction [, seed]): n examples (an integer >= 1) or a fraction
            // in (0, 1], drawn after a seeded shuffle.
            t.method("subset") { handle, args in
                let size = try args.number(1)
                let seed = try args.seed(2)
                try args.noMore(than: 2)
                let d = handle.dataset
                if size > 0, size < 1 { return .object(DatasetHandle(try d.subset(fraction: size, seed: seed))) }
                guard let n = Int(exactly: size), n >= 1 else {
                    throw args.bad(1, "a count >= 1 or a fraction in (0, 1) expected, got \(size)")
                }
                return .object(DatasetHandle(try d.subset(count: n, seed: seed)))
            }
            // ds:split(fraction [, seed]): two disjoint datasets, the first with `fraction`.
            t.method("split") { handle, args in
                let fraction = try args.number(1)
                let seed = try args.seed(2)
                try args.noMore(than: 2)
                let (a, b) = try handle.dataset.split(fraction: fraction, seed: seed)
                return .multiple([.object(DatasetHandle(a)), .object(DatasetHandle(b))])
            }
            // ds:augment { crop = 4, flip = true }: the same examples, augmented when
            // training batches are drawn (random crop after zero padding, horizontal flip).
            t.method("augment") { handle, args in
                let o = try args.options(1, fields: ["crop", "flip"])
                try args.noMore(than: 1)
                let crop = try o.integer("crop", default: 0)
                guard crop >= 0 else { throw o.bad("crop", "a padding >= 0 expected, got \(crop)") }
                let shape = handle.dataset.sampleShape
                guard crop == 0 || shape.count == 3 else {
                    throw o.bad("crop", "cropping needs images [C, H, W], this dataset holds \(shape.shapeString)")
                }
                guard crop == 0 || crop <= max(shape[1], shape[2]) else {
                    throw o.bad("crop", "a padding of at most the image's side (\(max(shape[1], shape[2]))) expected, got \(crop)")
                }
                var d = handle.dataset
                d.augmentation = try Augmentation(cropPadding: crop, horizontalFlip: o.boolean("flip", default: false), for: shape)
                return .object(DatasetHandle(d))
            }
        }
    }

    /// `data.from_table{ inputs = {{...}, ...}, labels = {...}, shape = {...}, classes = n }`:
    /// a dataset from Lua tables. Each input is a list of numbers (flattened in row-major
    /// order into `shape`, default `{#input}`); labels are class indices `0 ..< classes`.
    static func datasetFromTable(_ o: LuaOptions) throws -> Dataset {
        let state = o.state
        let labels: [Int32] = try o.withField("labels") { index in
            guard let index, state.type(at: index) == LUA_TTABLE else { throw o.mismatch("labels", expected: "table of class indices") }
            var labels: [Int32] = []
            labels.reserveCapacity(LuaState.reservation(forLength: state.rawLength(ofTableAt: index)))
            try state.forEachElement(ofTableAt: index) { k, element in
                guard let label = state.integer(at: element), label >= 0, label <= Int(Int32.max) else {
                    throw o.bad("labels", "class index >= 0 expected at index \(k), got \(state.number(at: element).map { "\($0)" } ?? state.typeName(at: element))")
                }
                labels.append(Int32(label))
                return true
            }
            return labels
        }
        var inputs: [Float] = []
        let perSample: Int = try o.withField("inputs") { index in
            guard let index, state.type(at: index) == LUA_TTABLE else { throw o.mismatch("inputs", expected: "table of samples") }
            let n = state.rawLength(ofTableAt: index)
            guard n == labels.count else {
                throw o.bad("inputs", "\(n) samples for \(labels.count) labels")
            }
            var size = -1
            try state.forEachElement(ofTableAt: index) { k, sample in
                guard state.type(at: sample) == LUA_TTABLE else {
                    throw o.bad("inputs", "sample \(k) is a \(state.typeName(at: sample)), expected a table of numbers")
                }
                let m = state.rawLength(ofTableAt: sample)
                if size < 0 { size = m }
                guard m == size, m > 0 else {
                    throw o.bad("inputs", "sample \(k) has \(m) values, sample 1 has \(size)")
                }
                try state.forEachElement(ofTableAt: sample) { j, value in
                    guard let x = state.number(at: value) else {
                        throw o.bad("inputs", "sample \(k) value \(j) is a \(state.typeName(at: value)), expected a number")
                    }
                    inputs.append(Float(x))
                    return true
                }
                return true
            }
            return max(size, 0)
        }
        guard !labels.isEmpty else { throw o.bad("labels", "at least one example expected") }
        let shape: [Int] = try o.numbers("shape").map { values in
            try values.map { v in
                guard let n = Int(exactly: v), n > 0 else { throw o.bad("shape", "positive integers expected, got \(v)") }
                return n
            }
        } ?? [perSample]
        // Checked: a shape such as { 2^32, 2^32 } overflows an Int.
        let values = TensorSize.product(shape)
        guard values == perSample else {
            let holds = values.map { "holds \($0) values" } ?? "holds more values than an Int can count"
            throw o.bad("shape", "\(shape.shapeString) \(holds), each sample has \(perSample)")
        }
        let classes = try o.integer("classes")
        if let classes, classes < 1 { throw o.bad("classes", "a positive count expected, got \(classes)") }
        return try Dataset(inputs: inputs, labels: labels, sampleShape: shape, classCount: classes, name: o.string("name", default: "table"))
    }
}

extension LuaArguments {
    /// An optional seed argument: an integer >= 0 (default 0).
    func seed(_ position: Int) throws -> UInt64 {
        let n = try integer(position, default: 0)
        guard n >= 0 else { throw bad(position, "a seed >= 0 expected, got \(n)") }
        return UInt64(n)
    }
}
