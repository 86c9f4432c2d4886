import CBLAS
import Dispatch
import Foundation

/// Time spent inside sgemm, measured only when `BUDGETRAIN_PROFILE_GEMM` is set (the
/// benchmark's "share of the step in sgemm"); otherwise one branch per call.
public enum GEMMProfiler {
    nonisolated(unsafe) public static var isEnabled = ProcessInfo.processInfo.environment["BUDGETRAIN_PROFILE_GEMM"] != nil
    nonisolated(unsafe) public static var seconds = 0.0
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
        let start = GEMMProfiler.isEnabled ? DispatchTime.now().uptimeNanoseconds : 0
        defer {
            if GEMMProfiler.isEnabled { GEMMProfiler.seconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        }
        cblas_sgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// Sets the number of threads OpenBLAS uses for each call.
    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(max(n, 1))) }
}

/// Controls of the BLAS library, for the CLI and the trainer.
public enum BLASLibrary {
    /// Sets the threads OpenBLAS uses and the engine's own parallel loops use.
    public static func setThreads(_ n: Int) {
        BLAS.setThreads(n)
        ComputeThreads.count = max(n, 1)
    }

    /// The kernel family OpenBLAS chose for this processor (e.g. `SkylakeX`, `Prescott`).
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }
}
