import CBLAS
import Dispatch

/// Runs `body(worker, slice)` over `0 ..< count` (images of a batch, rows of a matrix), split
/// into `workers` contiguous slices that run in parallel; `worker` (0 ..< workers) indexes the
/// caller's per-worker scratch buffers.
///
/// Layers split their GEMMs this way rather than letting OpenBLAS thread each call: Conv2d
/// issues one small GEMM per image, with each worker's column matrix in its own core's cache,
/// and Linear splits its products by features (each worker packs only its slice of W). While the workers run, OpenBLAS is held to one
/// thread per call (fanning each call out again would oversubscribe the cores); and with every
/// large GEMM going through here, OpenBLAS's own threads stay asleep instead of spinning
/// between calls against the engine's threads. With one worker, `body` runs on the calling
/// thread and OpenBLAS keeps its own thread count.
func parallelSlices(_ count: Int, workers: Int, _ body: (_ worker: Int, _ slice: Range<Int>) -> Void) {
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

/// Layers that run their own parallel workers for their products (Conv2d): in a model with
/// one, the other layers' products go through the engine's workers too.
public protocol OwnWorkers: AnyObject {}

extension Layer {
    /// This layer and its descendants, depth first.
    public var allLayers: [Layer] { [self] + children.flatMap { $0.allLayers } }

    /// Chooses how the model's Linear layers parallelise: across the engine's workers when a
    /// layer with workers of its own is present, through OpenBLAS's threads otherwise.
    public func chooseParallelStrategy() {
        let layers = allLayers
        let split = layers.contains { $0 is OwnWorkers }
        for case let linear as Linear in layers { linear.splitsAcrossWorkers = split }
    }
}
