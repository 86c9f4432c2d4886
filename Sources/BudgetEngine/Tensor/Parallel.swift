import Dispatch

/// How many threads the engine's own loops (elementwise ops, im2col, pooling) may use.
/// OpenBLAS has its own thread count; the trainer sets both from one setting.
public enum ComputeThreads {
    nonisolated(unsafe) public static var count: Int = 1

    /// The most threads a process asks for: each worker of a layer gets scratch buffers of its
    /// own, so an absurd count would allocate absurdly (the CLI rejects more with a message).
    public static let maximum = 1024

    /// `n` within `1 ... maximum`.
    public static func clamped(_ n: Int) -> Int { min(max(n, 1), maximum) }
}

/// Runs `body` over `0 ..< count` split into contiguous ranges, in parallel when the work is
/// large enough to pay for the hand-off (below `minimumPerThread` items per thread it runs on
/// the calling thread).
@inline(__always)
public func parallelRanges(_ count: Int, minimumPerThread: Int, _ body: (Range<Int>) -> Void) {
    let threads = min(ComputeThreads.count, count / max(minimumPerThread, 1))
    if threads <= 1 {
        body(0..<count)
        return
    }
    let chunk = (count + threads - 1) / threads
    DispatchQueue.concurrentPerform(iterations: threads) { t in
        let start = t * chunk
        let end = min(start + chunk, count)
        if start < end { body(start..<end) }
    }
}
