import Dispatch

/// The machine's single-precision matrix-product peak as the engine reaches it: square
/// `sgemm` products `C[n×n] = A · B` (`2n³` FLOPs each) through the same BLAS, with the same
/// thread setting, that the layers use. It is the yardstick of a model's "share of peak":
/// training FLOPs per second (`FLOPCount`) divided by this.
///
/// A measurement, for reports only: nothing in training depends on it.
public enum PeakThroughput {
    /// The largest side measured (4096² floats: 64 MiB per matrix).
    public static let maximumSide = 4096

    /// GFLOP/s of the fastest of `repeats` products of side `side` (after one untimed warm-up
    /// product), on the BLAS threads currently set (`BLASLibrary.setThreads`).
    public static func sgemmGFLOPs(side: Int, repeats: Int) throws -> Double {
        guard (16...maximumSide).contains(side) else {
            throw EngineError.invalidArgument("peak: the side must be in 16...\(maximumSide), got \(side)")
        }
        guard (1...1000).contains(repeats) else {
            throw EngineError.invalidArgument("peak: repeats must be in 1...1000, got \(repeats)")
        }
        let a = try Tensor(checkedShape: [side, side], of: "peak: matrix A")
        let b = try Tensor(checkedShape: [side, side], of: "peak: matrix B")
        let c = try Tensor(checkedShape: [side, side], of: "peak: matrix C")
        var rng = RandomGenerator(seed: 1)
        for i in 0..<a.count { a.data[i] = rng.uniform(-1, 1); b.data[i] = rng.uniform(-1, 1) }
        var best = Double.infinity
        for round in 0...repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            BLAS.gemm(transA: false, transB: false, m: side, n: side, k: side,
                      a: a.data, lda: side, b: b.data, ldb: side, beta: 0, c: c.data, ldc: side)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            if round > 0 { best = min(best, seconds) }
        }
        return 2 * Double(side) * Double(side) * Double(side) / best / 1e9
    }
}
