import ArgumentParser
import BudgetEngine
import Foundation

/// `budgetrain peak`: the machine's sgemm peak, the yardstick of a model's share of peak.
struct PeakCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "peak",
        abstract: "Measure this machine's single-precision matrix-product peak (GFLOP/s) through the BLAS budgetrain trains with.",
        discussion: """
            Times square products C = A·B (2·n³ FLOPs each) with the given threads and prints the \
            fastest, as `sgemm_peak: <GFLOP/s> GFLOP/s (n=<side>, <threads> threads, best of <repeats>)`. \
            A model's share of peak is its training FLOPs per second (model:flops) divided by this.
            """)

    @Option(help: "Threads (default: the number of cores).")
    var threads: Int?

    @Option(help: "Side n of the square matrices (16 to \(PeakThroughput.maximumSide)).")
    var size: Int = 2048

    @Option(help: "Timed products (the fastest counts), after one untimed warm-up.")
    var repeats: Int = 5

    func validate() throws {
        if let threads, !(1...ComputeThreads.maximum).contains(threads) {
            throw ValidationError("--threads must be in 1...\(ComputeThreads.maximum), got \(threads)")
        }
        guard (16...PeakThroughput.maximumSide).contains(size) else {
            throw ValidationError("--size must be in 16...\(PeakThroughput.maximumSide), got \(size)")
        }
        guard (1...1000).contains(repeats) else { throw ValidationError("--repeats must be in 1...1000, got \(repeats)") }
    }

    func run() throws {
        let count = threads ?? ThreadCount.default
        BLASLibrary.setThreads(count)
        let gflops = try PeakThroughput.sgemmGFLOPs(side: size, repeats: repeats)
        print(String(format: "sgemm_peak: %.1f GFLOP/s (n=%d, %d threads, best of %d; %@ kernels)",
                     gflops, size, count, repeats, BLASLibrary.coreName))
    }
}
