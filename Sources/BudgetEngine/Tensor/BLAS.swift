import CBLAS
import Dispatch
import Foundation

/// Wall-clock time during which at least one sgemm call is running, measured only when
/// `BUDGETRAIN_PROFILE_GEMM` is set (the benchmark's "share of the step in sgemm");
/// otherwise one branch per call. Calls that overlap on parallel workers count once.
public enum GEMMProfiler {
    nonisolated(unsafe) public static var isEnabled = ProcessInfo.processInfo.environment["BUDGETRAIN_PROFILE_GEMM"] != nil
    nonisolated(unsafe) public private(set) static var seconds = 0.0
    nonisolated(unsafe) private static var running = 0
    nonisolated(unsafe) private static var since: UInt64 = 0
    private static let lock = NSLock()

    static func enter() {
        lock.lock()
        if running == 0 { since = DispatchTime.now().uptimeNanoseconds }
        running += 1
        lock.unlock()
    }

    static func leave() {
        lock.lock()
        running -= 1
        if running == 0 { seconds += Double(DispatchTime.now().uptimeNanoseconds - since) / 1e9 }
        lock.unlock()
    }
}

/// Thin, named wrappers over `cblas_sgemm` for the row-major products the layers use.
/// `C[m×n] = alpha · op(A) · op(B) + beta · C`.
enum BLAS {
    @inline(__always)
    static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        var beta = beta
        if beta == 0 {
            // For beta = 0 OpenBLAS first clears C in a pass of its own, which is slower than
            // a memset: clearing C here and accumulating (beta = 1) made these calls 15–45%
            // faster on 2 Zen cores (128x256x256: 335 → 287 µs; 144x784x16: 251 → 146 µs).
            if ldc == n {
                c.update(repeating: 0, count: m * n)
            } else {
                for row in 0..<m { (c + row * ldc).update(repeating: 0, count: n) }
            }
            beta = 1
        }
        let profiling = GEMMProfiler.isEnabled
        if profiling { GEMMProfiler.enter() }
        defer { if profiling { GEMMProfiler.leave() } }
        cblas_sgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// `Σ xᵢ²` over `count` values, accumulated in double precision (`cblas_dsdot`).
    static func sumOfSquares(_ x: UnsafePointer<Float>, count: Int) -> Double {
        guard count > 0 else { return 0 }
        return cblas_dsdot(Int32(count), x, 1, x, 1)
    }

    /// Sets the number of threads OpenBLAS uses for each call.
    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(ComputeThreads.clamped(n))) }
}

/// Controls of the BLAS library, for the CLI and the trainer.
public enum BLASLibrary {
    /// Sets the threads OpenBLAS uses and the engine's own parallel loops use.
    public static func setThreads(_ n: Int) {
        BLAS.setThreads(n)
        ComputeThreads.count = ComputeThreads.clamped(n)
    }

    /// The kernel family OpenBLAS chose for this processor (e.g. `SkylakeX`, `Prescott`).
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }
}
