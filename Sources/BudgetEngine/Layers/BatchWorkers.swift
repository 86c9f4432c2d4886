import CBLAS
import Dispatch

/// Runs `body(worker, slice)` over the batch `0 ..< count`, split into `workers` contiguous
/// slices that run in parallel; `worker` (0 ..< workers) indexes the caller's per-worker
/// scratch buffers.
///
/// Layers that issue one small GEMM per image (Conv2d) use this instead of one large GEMM: each
/// worker keeps its column matrix in its own core's cache. While the workers run, OpenBLAS is
/// held to one thread per call, because letting every small call fan out across the same
/// cores again would oversubscribe them. With one worker, `body` runs on the calling thread and
/// OpenBLAS keeps its own thread count.
func forEachBatchSlice(_ count: Int, workers: Int, _ body: (_ worker: Int, _ slice: Range<Int>) -> Void) {
    let workers = min(workers, count)
    guard workers > 1 else {
        body(0, 0..<count)
        return
    }
    let blasThreads = openblas_get_num_threads()
    openblas_set_num_threads(1)
    defer { openblas_set_num_threads(blasThreads) }
    let chunk = (count + workers - 1) / workers
    DispatchQueue.concurrentPerform(iterations: workers) { worker in
        let start = worker * chunk
        let end = min(start + chunk, count)
        if start < end { body(worker, start..<end) }
    }
}
