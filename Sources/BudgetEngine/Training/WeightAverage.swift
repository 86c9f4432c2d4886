/// The running weight average of a run (see `WeightAveraging` for the three methods and their
/// formulas). Arithmetic is in Float, element by element, as PyTorch's `_foreach_lerp_` and
/// `_foreach_add_` do it.
///
/// Checkpoint state (parameter names as the model's, e.g. `model.1.weight`):
///
///     average.model.1.weight                 the average (LAWA: the mean of its snapshots)
///     average.snapshots.<slot>.model.1.weight    LAWA's snapshots, slot = snapshot number mod k
///     average.method, average.count, average.next_snapshot   (info)
///
/// The buffers are allocated once, when the run starts; updating allocates nothing.
final class WeightAverage: EvaluationWeights {
    let method: WeightAveraging
    private let parameters: [Parameter]
    /// EMA and SWA: the running average; LAWA: the mean of the snapshots.
    private let average: [Tensor]
    /// LAWA's last `k` snapshots, a ring (empty for EMA and SWA).
    private let snapshots: [[Tensor]]
    /// EMA and SWA: weights averaged so far (PyTorch's `n_averaged`); LAWA: snapshots taken.
    private(set) var count = 0
    /// LAWA: the next snapshot is due at progress `nextSnapshot · every`.
    private var nextSnapshot = 1

    init(_ method: WeightAveraging, parameters: [Parameter]) {
        self.method = method
        self.parameters = parameters
        average = parameters.map { Tensor(shape: $0.value.shape) }
        if case let .lawa(k, _) = method {
            snapshots = (0..<k).map { _ in parameters.map { Tensor(shape: $0.value.shape) } }
        } else {
            snapshots = []
        }
    }

    var evaluationWeights: [Tensor]? { count > 0 ? average : nil }

    /// Takes the weights after a step into the average; `reached` is the progress that step
    /// ended at.
    func update(reached: Double) {
        switch method {
        case let .ema(decay):
            accumulate(weight: count == 0 ? 1 : 1 - decay)
        case let .swa(start):
            guard reached > start + 1e-9 else { return }
            accumulate(weight: 1 / Double(count + 1))
        case let .lawa(k, every):
            // (`validate()` keeps k >= 1 and every >= 1e-4; a method it refuses averages nothing.)
            guard k >= 1, k == snapshots.count, every >= 1e-4, reached + 1e-9 >= Double(nextSnapshot) * every else { return }
            nextSnapshot = Int((reached / every + 1e-9).rounded(.down)) + 1
            let slot = snapshots[count % k]
            for (copy, p) in zip(slot, parameters) { copy.copy(from: p.value) }
            count += 1
            updateMean()
        }
    }

    /// `avg ← lerp(avg, θ, weight)` as PyTorch's `lerp` (its two forms either side of 0.5);
    /// weight 1 copies.
    private func accumulate(weight: Double) {
        defer { count += 1 }
        let w = Float(weight), complement = Float(1 - weight)
        for (avg, p) in zip(average, parameters) {
            let a = avg.data, theta = p.value.data
            if weight >= 1 {
                avg.copy(from: p.value)
            } else if weight < 0.5 {
                parallelRanges(p.count, minimumPerThread: 1 << 16) { range in
                    for i in range { a[i] = a[i] + w * (theta[i] - a[i]) }
                }
            } else {
                parallelRanges(p.count, minimumPerThread: 1 << 16) { range in
                    for i in range { a[i] = theta[i] - (theta[i] - a[i]) * complement }
                }
            }
        }
    }

    /// LAWA: the mean of the snapshots kept, summed slot by slot in Float, then divided.
    private func updateMean() {
        let kept = min(count, snapshots.count)
        let divisor = Float(kept)
        for (index, avg) in average.enumerated() {
            let a = avg.data, n = avg.count
            avg.copy(from: snapshots[0][index])
            for slot in 1..<max(kept, 1) {
                let s = snapshots[slot][index].data
                for i in 0..<n { a[i] += s[i] }
            }
            for i in 0..<n { a[i] /= divisor }
        }
    }

    // MARK: Checkpoints

    func capture(names: [String]) -> (arrays: [String: NamedArray], info: [String: String]) {
        var arrays: [String: NamedArray] = [:]
        for (name, avg) in zip(names, average) { arrays["average." + name] = NamedArray(avg) }
        for slot in 0..<min(count, snapshots.count) {
            for (name, copy) in zip(names, snapshots[slot]) { arrays["average.snapshots.\(slot).\(name)"] = NamedArray(copy) }
        }
        let info = ["average.method": method.description, "average.count": String(count), "average.next_snapshot": String(nextSnapshot)]
        return (arrays, info)
    }

    func restore(_ state: TrainingState, names: [String]) throws {
        guard state.info["average.method"] == method.description else {
            throw EngineError.invalidArgument("checkpoint: the weight average was \(state.info["average.method"] ?? "none"), this run's is \(method)")
        }
        let savedCount = try state.integer("average.count"), savedNext = try state.integer("average.next_snapshot")
        guard savedCount >= 0, savedNext >= 1 else {
            throw EngineError.invalidArgument("checkpoint: 'average.count' (\(savedCount)) or 'average.next_snapshot' (\(savedNext)) is out of range")
        }
        if snapshots.isEmpty {
            for (name, avg) in zip(names, average) { try state.array("average." + name).load(into: avg, name: "average." + name) }
        } else {
            for slot in 0..<min(savedCount, snapshots.count) {
                for (name, copy) in zip(names, snapshots[slot]) {
                    let key = "average.snapshots.\(slot).\(name)"
                    try state.array(key).load(into: copy, name: key)
                }
            }
        }
        count = savedCount
        nextSnapshot = savedNext
        if !snapshots.isEmpty, count > 0 { updateMean() }
    }
}
